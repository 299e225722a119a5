"""Syncing a linked connection: claims, attempts, partial statements, replays."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Account, Connection
from accounts.providers.base import AccountRef, Statement, StatementLine
from transactions.models import MonthlySpending, RawPayload, Transaction
from transactions.services import connection_sync, statements_ingest

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


def test_a_second_job_while_the_first_holds_the_connection_is_a_no_op(linked):
    claim = account_services.connection_sync_claim(connection=linked)
    assert claim is not None

    assert connection_sync(connection=linked).status == "skipped"

    account_services.connection_sync_release(connection=linked, claim=claim)
    assert connection_sync(connection=linked).status == "imported"


def test_an_expired_claim_cannot_release_the_next_jobs_claim(linked):
    stale = account_services.connection_sync_claim(connection=linked)
    assert stale is not None
    Connection.objects.filter(pk=linked.pk).update(sync_lock_expires_at=timezone.now() - dt.timedelta(seconds=1))
    current = account_services.connection_sync_claim(connection=linked)
    assert current is not None

    account_services.connection_sync_release(connection=linked, claim=stale)

    assert Connection.objects.get(pk=linked.pk).sync_lock_expires_at == current.expires_at


def test_after_repeated_unfinished_attempts_the_connection_is_paused(linked, settings):
    """Workers killed by a payload never finish; the queue redelivers forever unless we stop."""
    Connection.objects.filter(pk=linked.pk).update(sync_attempts=settings.SYNC_MAX_ATTEMPTS)
    payloads = RawPayload.objects.count()

    outcome = connection_sync(connection=linked)

    assert outcome.status == "gave-up"
    linked.refresh_from_db()
    assert linked.status == Connection.Status.NEEDS_ATTENTION
    assert "keeps failing" in linked.last_error
    assert RawPayload.objects.count() == payloads  # nothing fetched
    assert linked.sync_lock_expires_at is None


def test_a_finished_sync_resets_the_attempt_count(linked):
    Connection.objects.filter(pk=linked.pk).update(sync_attempts=2)
    connection_sync(connection=linked)
    assert Connection.objects.get(pk=linked.pk).sync_attempts == 0


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
