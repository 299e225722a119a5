"""Syncing a linked connection: jobs, leases, attempts, backoff, partial statements, replays."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django_q.models import Schedule

from accounts import services as account_services
from accounts.models import Account, Connection, SyncJob
from accounts.providers.base import AccountRef, Statement, StatementLine
from transactions.models import MonthlySpending, RawPayload, Transaction
from transactions.services import SyncJobBusy, statements_ingest, sync_job_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(user, demo_bank, django_capture_on_commit_callbacks):
    """A connection to the demo bank, linked and synced once."""
    with django_capture_on_commit_callbacks(execute=True):
        connection = account_services.connection_create(
            user=user, url=demo_bank.url, login="alice", password=demo_bank.password
        )
    connection.refresh_from_db()
    return connection


def connection_sync(*, connection, trigger=SyncJob.Trigger.MANUAL):
    """Queue a job for the connection (or find the one in flight) and run it, as a worker would."""
    job, _ = account_services.sync_job_request(connection=connection, trigger=trigger)
    return sync_job_run(job_id=job.pk)


def test_linking_ran_one_job_to_done(linked):
    [job] = SyncJob.objects.filter(connection=linked)
    assert (job.trigger, job.status, job.attempts) == ("link", "done", 1)
    assert job.rows_new == Transaction.objects.filter(account__connection=linked).count() > 0
    assert job.finished_at is not None


def test_a_sync_that_finds_nothing_new_changes_nothing(linked, django_capture_on_commit_callbacks):
    rows = Transaction.objects.count()
    totals = list(MonthlySpending.objects.values_list("month", "category_id", "amount", "txn_count"))

    with django_capture_on_commit_callbacks(execute=True):
        outcome = connection_sync(connection=linked)

    assert outcome.status == "imported"
    assert outcome.result is not None
    assert outcome.result.new == 0
    assert outcome.result.existing > 0
    assert Transaction.objects.count() == rows
    assert list(MonthlySpending.objects.values_list("month", "category_id", "amount", "txn_count")) == totals
    assert SyncJob.objects.filter(connection=linked).latest("created_at", "id").message == "Up to date: nothing new."


def test_repeated_requests_land_on_the_job_in_flight(linked):
    first, created = account_services.sync_job_request(connection=linked, trigger=SyncJob.Trigger.MANUAL)
    again, created_again = account_services.sync_job_request(connection=linked, trigger=SyncJob.Trigger.DAILY)

    assert created
    assert not created_again
    assert again.pk == first.pk
    assert SyncJob.objects.filter(connection=linked, status__in=SyncJob.IN_FLIGHT).count() == 1


def test_a_second_delivery_while_the_first_runs_comes_back_later(linked):
    job, _ = account_services.sync_job_request(connection=linked, trigger=SyncJob.Trigger.MANUAL)
    running = account_services.sync_job_start(job_id=job.pk)
    assert running is not None

    with pytest.raises(SyncJobBusy):  # not acknowledged: the queue brings it back later
        sync_job_run(job_id=job.pk)

    # The first worker died: once its lease runs out, the redelivery takes the job over.
    SyncJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert sync_job_run(job_id=job.pk).status == "imported"
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 2)


def test_a_run_whose_lease_was_taken_over_changes_nothing(linked):
    job, _ = account_services.sync_job_request(connection=linked, trigger=SyncJob.Trigger.MANUAL)
    stale = account_services.sync_job_start(job_id=job.pk)
    SyncJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    current = account_services.sync_job_start(job_id=job.pk)
    assert stale is not None
    assert current is not None

    account_services.sync_job_finish(job=stale, status=SyncJob.Status.FAILED, message="late")

    job.refresh_from_db()
    assert (job.status, job.lease_expires_at) == ("running", current.lease_expires_at)


def test_a_finished_job_is_not_run_again(linked):
    job = SyncJob.objects.get(connection=linked)
    assert sync_job_run(job_id=job.pk).status == "skipped"


def test_after_repeated_unfinished_attempts_the_job_gives_up(linked, settings):
    """Workers killed by a payload never finish; the queue redelivers forever unless we stop."""
    job, _ = account_services.sync_job_request(connection=linked, trigger=SyncJob.Trigger.DAILY)
    SyncJob.objects.filter(pk=job.pk).update(
        status=SyncJob.Status.RUNNING,
        attempts=settings.SYNC_MAX_ATTEMPTS,
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    payloads = RawPayload.objects.count()

    outcome = sync_job_run(job_id=job.pk)

    assert outcome.status == "gave-up"
    linked.refresh_from_db()
    assert linked.status == Connection.Status.NEEDS_ATTENTION
    assert "keeps failing" in linked.last_error
    assert RawPayload.objects.count() == payloads  # nothing fetched
    job.refresh_from_db()
    assert (job.status, job.lease_expires_at) == ("failed", None)


def test_an_unreachable_bank_is_retried_with_backoff_then_the_job_fails(linked, settings, unused_tcp_port):
    settings.SYNC_RETRY_DELAYS = [60, 300]
    Connection.objects.filter(pk=linked.pk).update(url=f"http://127.0.0.1:{unused_tcp_port}/ofx")
    job, _ = account_services.sync_job_request(connection=linked, trigger=SyncJob.Trigger.MANUAL)

    outcome = sync_job_run(job_id=job.pk)

    assert outcome.status == "retrying"
    job.refresh_from_db()
    assert (job.status, job.transient_failures) == ("queued", 1)
    assert job.next_try_at is not None
    assert 55 <= (job.next_try_at - timezone.now()).total_seconds() <= 60
    assert "Trying again at" in job.message
    [retry] = Schedule.objects.filter(func="transactions.tasks.sync_job_run")
    assert (retry.args, retry.schedule_type, retry.next_run) == (f"({job.pk},)", Schedule.ONCE, job.next_try_at)
    assert sync_job_run(job_id=job.pk).status == "not-due"  # delivered early: scheduled again for then
    assert Schedule.objects.filter(func="transactions.tasks.sync_job_run", next_run=job.next_try_at).count() == 2

    for expected_failures, delay in [(2, 300)]:
        SyncJob.objects.filter(pk=job.pk).update(next_try_at=timezone.now())
        assert sync_job_run(job_id=job.pk).status == "retrying"
        job.refresh_from_db()
        assert job.transient_failures == expected_failures
        assert job.next_try_at is not None
        assert delay - 5 <= (job.next_try_at - timezone.now()).total_seconds() <= delay

    SyncJob.objects.filter(pk=job.pk).update(next_try_at=timezone.now())
    assert sync_job_run(job_id=job.pk).status == "failed"
    job.refresh_from_db()
    linked.refresh_from_db()
    assert job.status == "failed"
    assert "Could not connect" in job.message
    assert linked.status == Connection.Status.ACTIVE  # the bank was down, not the login
    assert "Could not connect" in linked.last_error


def test_one_account_the_bank_cannot_serve_does_not_block_the_others(linked):
    Account.objects.create(
        user=linked.user, connection=linked, name="Closed", external_id="999", external_type="CHECKING", bank_id="1"
    )
    # Never synced, with a longer history: the window now holds transactions not yet imported.
    Connection.objects.filter(pk=linked.pk).update(
        last_synced_at=None, history_from=linked.history_from - dt.timedelta(days=60)
    )
    before = Transaction.objects.count()

    outcome = connection_sync(connection=Connection.objects.get(pk=linked.pk))

    assert outcome.status == "partial"
    assert outcome.result is not None
    assert outcome.result.new > 0
    assert Transaction.objects.count() > before
    linked.refresh_from_db()
    assert "Invalid account" in linked.last_error
    assert linked.last_synced_at is None  # the next sync asks for the whole window again


def test_bad_credentials_put_the_connection_in_needs_attention(linked):
    from accounts.credentials import BankCredentials, credentials_encrypt

    Connection.objects.filter(pk=linked.pk).update(
        encrypted_credentials=credentials_encrypt(BankCredentials("alice", "changed-at-the-bank"))
    )
    outcome = connection_sync(connection=Connection.objects.get(pk=linked.pk))
    assert outcome.status == "needs-attention"
    linked.refresh_from_db()
    assert linked.status == Connection.Status.NEEDS_ATTENTION
    assert "rejected the login" in linked.last_error


def test_linking_the_same_accounts_twice_is_refused(user, linked, demo_bank):
    with pytest.raises(account_services.AlreadyLinked, match="already linked"):
        account_services.connection_create(user=user, url=demo_bank.url, login="alice", password=demo_bank.password)
    assert Connection.objects.filter(user=user).count() == 1


def test_the_same_fitid_in_two_statements_of_one_payload_counts_once(user, django_capture_on_commit_callbacks):
    account = Account.objects.create(user=user, name="Checking")
    line = StatementLine("F1", dt.date(2026, 10, 3), Decimal("-9.99"), "NETFLIX.COM")
    statement = Statement(AccountRef("", "checking"), "USD", (line,))

    with django_capture_on_commit_callbacks(execute=True):
        result = statements_ingest(user_id=user.pk, statements=[(account, statement), (account, statement)])

    assert (result.new, Transaction.objects.count()) == (1, 1)
    assert MonthlySpending.objects.get().amount == Decimal("-9.99")


def test_a_finished_import_is_an_in_app_notice(linked, mailoutbox):
    from notifications.models import Notification

    notice = Notification.objects.get(user=linked.user, kind="import.finished")
    assert notice.subject.endswith("new transactions from 127.0.0.1")
    assert notice.email_status == "skipped"
    assert mailoutbox == []


def test_a_connection_that_needs_attention_says_so_once(linked, mailoutbox, django_capture_on_commit_callbacks):
    from accounts.credentials import BankCredentials, credentials_encrypt
    from notifications.models import Notification

    Connection.objects.filter(pk=linked.pk).update(
        encrypted_credentials=credentials_encrypt(BankCredentials("alice", "changed-at-the-bank"))
    )
    for _ in range(2):  # the daily job, or a retried task, finds it still failing
        with django_capture_on_commit_callbacks(execute=True):
            connection_sync(connection=Connection.objects.get(pk=linked.pk))

    [notice] = Notification.objects.filter(user=linked.user, kind="connection.needs-attention")
    assert "rejected the login" in notice.body
    assert [message.subject for message in mailoutbox] == ["Your connection to 127.0.0.1 needs attention"]


def pending_statement(account, *lines):
    return Statement(AccountRef(account.external_id, account.kind), "USD", tuple(lines))


def test_a_pending_charge_that_posts_is_replaced_not_doubled(user, django_capture_on_commit_callbacks):
    account = Account.objects.create(user=user, name="Card", kind="credit-card")
    day = dt.date(2026, 11, 20)
    pending = StatementLine("T1", day, Decimal("-20.00"), "SHELL OIL 1234", pending=True)
    posted = StatementLine("T1", day + dt.timedelta(days=1), Decimal("-23.45"), "SHELL OIL 1234")

    with django_capture_on_commit_callbacks(execute=True):
        statements_ingest(user_id=user.pk, statements=[(account, pending_statement(account, pending))])
        result = statements_ingest(user_id=user.pk, statements=[(account, pending_statement(account, posted))])
        again = statements_ingest(user_id=user.pk, statements=[(account, pending_statement(account, posted))])

    assert (result.new, result.updated, again.updated) == (0, 1, 0)
    [row] = Transaction.objects.filter(account=account)
    assert (row.pending, row.amount, row.posted_on) == (False, Decimal("-23.45"), day + dt.timedelta(days=1))
    assert MonthlySpending.objects.get(user=user).amount == Decimal("-23.45")


def test_a_user_category_survives_the_charge_posting(user, django_capture_on_commit_callbacks):
    from categories.models import Category
    from transactions.services import transaction_recategorize

    account = Account.objects.create(user=user, name="Card", kind="credit-card")
    day = dt.date(2026, 11, 20)
    with django_capture_on_commit_callbacks(execute=True):
        statements_ingest(
            user_id=user.pk,
            statements=[
                (account, pending_statement(account, StatementLine("T1", day, Decimal("-9.00"), "X", pending=True)))
            ],
        )
        dining = Category.objects.get(path="food/dining")
        transaction_recategorize(txn=Transaction.objects.get(), category=dining)
        statements_ingest(
            user_id=user.pk,
            statements=[(account, pending_statement(account, StatementLine("T1", day, Decimal("-9.50"), "X")))],
        )
    assert Transaction.objects.get().category == dining


def test_a_pending_charge_the_bank_drops_is_removed_within_the_fetched_window(user, django_capture_on_commit_callbacks):
    account = Account.objects.create(user=user, name="Card", kind="credit-card")
    day = dt.date(2026, 11, 20)
    hold = StatementLine("HOLD", day, Decimal("-50.00"), "HOTEL HOLD", pending=True)
    older_hold = StatementLine("OLD", day - dt.timedelta(days=30), Decimal("-5.00"), "OLD HOLD", pending=True)
    charge = StatementLine("CHARGE", day + dt.timedelta(days=1), Decimal("-180.00"), "HOTEL")

    with django_capture_on_commit_callbacks(execute=True):
        statements_ingest(user_id=user.pk, statements=[(account, pending_statement(account, hold, older_hold))])
        result = statements_ingest(
            user_id=user.pk,
            statements=[(account, pending_statement(account, charge))],
            window=(day - dt.timedelta(days=7), day + dt.timedelta(days=1)),
        )

    assert (result.new, result.updated) == (1, 1)
    assert set(Transaction.objects.values_list("external_id", flat=True)) == {
        "CHARGE",
        "OLD",
    }  # OLD: outside the window
    assert MonthlySpending.objects.get(user=user, month=dt.date(2026, 11, 1)).amount == Decimal("-180.00")


def test_a_brokerage_accounts_trades_are_transfers_and_its_dividends_income(linked):
    brokerage = Transaction.objects.filter(account__connection=linked, account__kind="investment")
    paths = dict(brokerage.values_list("description", "category__path"))

    assert brokerage.exists()
    assert {path for description, path in paths.items() if description.startswith("BUY")} == {
        "transfer/account-transfer"
    }
    assert {path for description, path in paths.items() if description.startswith("DIVIDEND")} <= {
        "income/interest-income"
    }
    assert set(brokerage.values_list("category__kind", flat=True)) <= {"transfer", "income"}


def test_a_job_whose_task_was_lost_is_queued_again(linked, settings, django_capture_on_commit_callbacks):
    job = SyncJob.objects.create(connection=linked, user=linked.user, trigger=SyncJob.Trigger.DAILY)  # no task
    long_ago = timezone.now() - dt.timedelta(minutes=settings.SYNC_JOB_STUCK_MINUTES + 1)
    assert account_services.sync_jobs_recover() == 0  # too recent to call lost
    SyncJob.objects.filter(pk=job.pk).update(created_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert account_services.sync_jobs_recover() == 1

    job.refresh_from_db()
    assert job.status == "done"


def test_a_running_job_whose_worker_died_unnoticed_is_queued_again(
    linked, settings, django_capture_on_commit_callbacks
):
    job, _ = account_services.sync_job_request(connection=linked, trigger=SyncJob.Trigger.DAILY)
    account_services.sync_job_start(job_id=job.pk)
    long_ago = timezone.now() - dt.timedelta(minutes=settings.SYNC_JOB_STUCK_MINUTES + 1)
    SyncJob.objects.filter(pk=job.pk).update(lease_expires_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert account_services.sync_jobs_recover() == 1

    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 2)


def test_new_credentials_entered_during_a_run_with_the_old_ones_win(
    linked, demo_bank, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts.credentials import BankCredentials, credentials_encrypt

    Connection.objects.filter(pk=linked.pk).update(
        encrypted_credentials=credentials_encrypt(BankCredentials("alice", "changed-at-the-bank"))
    )
    start = account_services.sync_job_start

    def start_then_the_user_fixes_the_login(*, job_id):
        job = start(job_id=job_id)
        Connection.objects.filter(pk=linked.pk).update(
            encrypted_credentials=credentials_encrypt(BankCredentials("alice", demo_bank.password))
        )
        return job

    monkeypatch.setattr(account_services, "sync_job_start", start_then_the_user_fixes_the_login)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = connection_sync(connection=linked)
    monkeypatch.undo()

    assert outcome.status == "credentials-changed"
    linked.refresh_from_db()
    assert linked.status == Connection.Status.ACTIVE
    follow_up = SyncJob.objects.filter(connection=linked).latest("created_at", "id")
    assert (follow_up.trigger, follow_up.status) == ("credentials", "done")


def test_a_manual_refresh_cuts_a_backoff_short(linked, django_capture_on_commit_callbacks):
    job = SyncJob.objects.create(
        connection=linked,
        user=linked.user,
        trigger=SyncJob.Trigger.DAILY,
        transient_failures=1,
        next_try_at=timezone.now() + dt.timedelta(minutes=25),
    )
    with django_capture_on_commit_callbacks(execute=True):
        refreshed, created = account_services.connection_refresh(connection=linked)
    assert refreshed.pk == job.pk
    assert not created
    job.refresh_from_db()
    assert job.status == "done"


def test_a_pending_charge_older_than_the_overlap_is_still_checked(linked, django_capture_on_commit_callbacks):
    """A hotel hold lasts weeks: the fetch reaches back to it, and the bank no longer lists it."""
    checking = linked.accounts.get(kind="checking")
    old_hold = timezone.localdate() - dt.timedelta(days=20)
    with django_capture_on_commit_callbacks(execute=True):
        statements_ingest(
            user_id=linked.user_id,
            statements=[
                (
                    checking,
                    pending_statement(
                        checking, StatementLine("HOLD", old_hold, Decimal("-300.00"), "HOTEL", pending=True)
                    ),
                )
            ],
        )
        Connection.objects.filter(pk=linked.pk).update(last_synced_at=timezone.now())
        connection_sync(connection=Connection.objects.get(pk=linked.pk))
    assert not Transaction.objects.filter(external_id="HOLD").exists()


def test_an_account_listed_without_transactions_keeps_its_pending_rows(user, django_capture_on_commit_callbacks):
    account = Account.objects.create(user=user, name="Card", kind="credit-card")
    day = dt.date(2026, 11, 20)
    hold = StatementLine("HOLD", day, Decimal("-50.00"), "HOTEL HOLD", pending=True)
    balance_only = Statement(AccountRef("", "credit-card"), "USD", (), complete=False)
    with django_capture_on_commit_callbacks(execute=True):
        statements_ingest(user_id=user.pk, statements=[(account, pending_statement(account, hold))])
        statements_ingest(user_id=user.pk, statements=[(account, balance_only)], window=(day, day))
    assert Transaction.objects.filter(external_id="HOLD").exists()


def test_a_replay_neither_brings_back_nor_rewinds_pending_rows(user, django_capture_on_commit_callbacks):
    account = Account.objects.create(user=user, name="Card", kind="credit-card")
    day = dt.date(2026, 11, 20)
    then = pending_statement(account, StatementLine("P1", day, Decimal("-50.00"), "HOLD", pending=True))
    with django_capture_on_commit_callbacks(execute=True):
        statements_ingest(user_id=user.pk, statements=[(account, then)])
        statements_ingest(
            user_id=user.pk,
            statements=[
                (account, pending_statement(account, StatementLine("P1", day, Decimal("-80.00"), "HOLD", pending=True)))
            ],
        )
        result = statements_ingest(user_id=user.pk, statements=[(account, then)], replay=True)
        Transaction.objects.filter(external_id="P1").delete()
        MonthlySpending.objects.filter(user=user).delete()  # (as the bank dropping the hold would leave them)
        statements_ingest(user_id=user.pk, statements=[(account, then)], replay=True)

    assert (result.new, result.updated) == (0, 0)
    assert not Transaction.objects.filter(external_id="P1").exists()
