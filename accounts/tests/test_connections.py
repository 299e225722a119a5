"""Running connections every day: the daily refresh, manual refreshes, new credentials, disconnecting."""

import datetime as dt

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services
from accounts.credentials import BankCredentials, credentials_decrypt, credentials_encrypt
from accounts.models import Account, Connection, Institution, SyncJob
from accounts.providers.base import ProviderAuthError, ProviderDataError
from mint.models import User
from mint.services import user_mark_active
from mint.tests.factories import UserFactory
from transactions.models import MonthlySpending, Transaction

from .factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(user, demo_bank, django_capture_on_commit_callbacks):
    """The user linked to the demo bank yesterday, and synced then."""
    demo_bank.today = timezone.localdate() - dt.timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        connection = services.connection_create(
            user=user, url=demo_bank.url, login="alice", password=demo_bank.password
        )
    User.objects.filter(pk=user.pk).update(last_active_on=timezone.localdate() - dt.timedelta(days=1))
    connection.refresh_from_db()
    return connection


def test_a_bank_url_the_directory_knows_is_named_as_the_directory_names_it(user, demo_bank):
    bank = Institution.objects.create(name="Demo Bank", ofx_url=demo_bank.url)
    connection = services.connection_create(user=user, url=demo_bank.url, login="alice", password=demo_bank.password)
    assert connection.institution == bank
    assert connection.display_name == "Demo Bank"


def daily_window_moment(settings, minutes_in: float) -> dt.datetime:
    hour, minute = (int(part) for part in settings.SYNC_DAILY_AT.split(":"))
    opens = timezone.localtime().replace(hour=hour, minute=minute, second=0, microsecond=0)
    return opens + dt.timedelta(minutes=minutes_in)


def test_the_daily_schedule_picks_up_the_next_days_transactions(
    linked, demo_bank, settings, django_capture_on_commit_callbacks
):
    before = Transaction.objects.filter(account__connection=linked).count()
    demo_bank.today = timezone.localdate()

    with django_capture_on_commit_callbacks(execute=True):
        queued = services.daily_refresh_enqueue(
            now=daily_window_moment(settings, settings.SYNC_DAILY_WINDOW_MINUTES - 1)
        )

    assert queued == 1
    job = SyncJob.objects.filter(connection=linked).latest("created_at", "id")
    assert (job.trigger, job.status) == ("daily", "done")
    assert Transaction.objects.filter(account__connection=linked).count() == before + job.rows_new
    assert job.rows_new > 0
    assert Transaction.objects.filter(account__connection=linked, posted_on=timezone.localdate()).exists()


def test_the_daily_refresh_queues_each_connection_once_a_day(linked, settings):
    late = daily_window_moment(settings, settings.SYNC_DAILY_WINDOW_MINUTES - 1)
    assert services.daily_refresh_enqueue(now=late) == 1
    SyncJob.objects.filter(connection=linked).update(status=SyncJob.Status.DONE)
    assert services.daily_refresh_enqueue(now=late) == 0


def test_the_daily_refresh_skips_inactive_users_and_paused_connections(linked, settings):
    late = daily_window_moment(settings, settings.SYNC_DAILY_WINDOW_MINUTES - 1)
    idle = ConnectionFactory.create(user=UserFactory(last_active_on=timezone.localdate() - dt.timedelta(days=31)))
    paused = ConnectionFactory.create(
        user=UserFactory(last_active_on=timezone.localdate()), status=Connection.Status.NEEDS_ATTENTION
    )
    never_seen = ConnectionFactory.create()

    assert services.daily_refresh_enqueue(now=late) == 1
    assert not SyncJob.objects.filter(connection__in=[idle, paused, never_seen]).exists()


def test_the_daily_refresh_spreads_connections_over_the_window(settings):
    today = timezone.localdate()
    connections = [ConnectionFactory.create(user=UserFactory(last_active_on=today)) for _ in range(30)]
    slots = settings.SYNC_DAILY_WINDOW_MINUTES // settings.SYNC_DAILY_TICK_MINUTES

    Connection.objects.update(daily_refresh_on=timezone.localdate() - dt.timedelta(days=1))
    assert (
        services.daily_refresh_enqueue(now=daily_window_moment(settings, -1)) == 0
    )  # yesterday's done, today's not open
    Connection.objects.update(daily_refresh_on=None)
    first_tick = services.daily_refresh_enqueue(now=daily_window_moment(settings, 1))
    assert first_tick == sum(1 for c in connections if c.pk % slots == 0)
    assert first_tick < len(connections)
    # A missed tick is caught up: halfway, every slot up to the middle is queued.
    halfway = services.daily_refresh_enqueue(now=daily_window_moment(settings, settings.SYNC_DAILY_WINDOW_MINUTES / 2))
    assert first_tick + halfway == sum(1 for c in connections if c.pk % slots <= slots // 2)
    rest = services.daily_refresh_enqueue(now=daily_window_moment(settings, settings.SYNC_DAILY_WINDOW_MINUTES - 1))
    assert first_tick + halfway + rest == len(connections)
    assert services.daily_refresh_enqueue(now=daily_window_moment(settings, settings.SYNC_DAILY_WINDOW_MINUTES)) == 0


def test_activity_is_written_at_most_once_a_day(user):
    today = timezone.localdate()
    with CaptureQueriesContext(db_connection) as queries:
        for _ in range(5):
            user_mark_active(user_id=user.pk, today=today)
    assert len(queries) == 1
    user.refresh_from_db()
    assert user.last_active_on == today
    # Another process that has not seen the user yet asks, and writes nothing: the day is stored.
    assert User.objects.filter(pk=user.pk, last_active_on=today).count() == 1


def test_requests_mark_the_user_active(user, client):
    client.force_login(user)
    client.get("/accounts/")
    user.refresh_from_db()
    assert user.last_active_on == timezone.localdate()


def test_a_manual_refresh_is_refused_moments_after_the_last_one(linked):
    with pytest.raises(services.RefreshTooSoon) as refused:
        services.connection_refresh(connection=linked)
    assert 0 < refused.value.retry_after <= 60
    SyncJob.objects.filter(connection=linked).update(finished_at=timezone.now() - dt.timedelta(minutes=2))
    job, created = services.connection_refresh(connection=linked)
    assert created
    assert job.trigger == "manual"


def test_new_credentials_bring_a_paused_connection_back_with_its_history(
    linked, demo_bank, django_capture_on_commit_callbacks
):
    Connection.objects.filter(pk=linked.pk).update(
        status=Connection.Status.NEEDS_ATTENTION, last_error="The bank rejected the login: Invalid user ID or password"
    )
    rows = Transaction.objects.filter(account__connection=linked).count()

    with django_capture_on_commit_callbacks(execute=True):
        job = services.connection_credentials_replace(connection=linked, login="alice", password=demo_bank.password)

    linked.refresh_from_db()
    assert (linked.status, linked.last_error) == ("active", "")
    assert credentials_decrypt(linked.encrypted_credentials).password == demo_bank.password
    job.refresh_from_db()
    assert (job.trigger, job.status) == ("credentials", "done")
    assert Transaction.objects.filter(account__connection=linked).count() >= rows


def test_wrong_new_credentials_change_nothing(linked):
    stored = linked.encrypted_credentials
    with pytest.raises(ProviderAuthError):
        services.connection_credentials_replace(connection=linked, login="alice", password="wrong")
    linked.refresh_from_db()
    assert linked.encrypted_credentials == stored


def test_new_credentials_must_reach_the_same_accounts(linked, demo_bank):
    for account in linked.accounts.all():  # as if the login were another person's
        Account.objects.filter(pk=account.pk).update(external_id=f"not-seen-{account.pk}")
    with pytest.raises(ProviderDataError, match="does not reach the accounts linked before"):
        services.connection_credentials_replace(connection=linked, login="somebody-else", password=demo_bank.password)


def test_disconnecting_and_keeping_the_history(linked):
    rows = Transaction.objects.filter(account__connection=linked).count()
    account_ids = set(linked.accounts.values_list("pk", flat=True))
    totals = list(MonthlySpending.objects.values_list("month", "category_id", "amount"))

    services.connection_disconnect(connection=linked, keep_history=True)

    assert not Connection.objects.filter(pk=linked.pk).exists()
    kept = Account.objects.filter(pk__in=account_ids)
    assert kept.count() == len(account_ids)
    assert all(account.connection_id is None for account in kept)
    assert Transaction.objects.filter(account__in=account_ids).count() == rows
    assert list(MonthlySpending.objects.values_list("month", "category_id", "amount")) == totals


def test_disconnecting_and_deleting_the_history(linked):
    account_ids = list(linked.accounts.values_list("pk", flat=True))

    services.connection_disconnect(connection=linked, keep_history=False)

    assert not Account.objects.filter(pk__in=account_ids).exists()
    assert not Transaction.objects.filter(account__in=account_ids).exists()
    assert not MonthlySpending.objects.filter(user=linked.user).exclude(txn_count=0).exists()


def test_kept_accounts_get_names_that_do_not_clash(user, linked):
    [checking] = linked.accounts.filter(kind="checking")
    Account.objects.create(user=user, name=checking.name)
    services.connection_disconnect(connection=linked, keep_history=True)
    assert Account.objects.filter(user=user, name=f"{checking.name} (2)").exists()


def test_linking_a_bank_again_after_keeping_its_history_takes_the_accounts_back(
    user, linked, demo_bank, django_capture_on_commit_callbacks
):
    account_ids = set(linked.accounts.values_list("pk", flat=True))
    rows = Transaction.objects.filter(user=user).count()
    services.connection_disconnect(connection=linked, keep_history=True)

    with django_capture_on_commit_callbacks(execute=True):
        again = services.connection_create(user=user, url=demo_bank.url, login="alice", password=demo_bank.password)

    assert set(again.accounts.values_list("pk", flat=True)) == account_ids
    assert Account.objects.filter(user=user).count() == len(account_ids)
    # Yesterday's link, today's bank: only today's new transactions are added, none twice.
    new = SyncJob.objects.get(connection=again).rows_new
    assert Transaction.objects.filter(user=user).count() == rows + new


def test_credentials_survive_a_key_rotation(settings):
    connection = ConnectionFactory.create(
        encrypted_credentials=credentials_encrypt(BankCredentials(access_url="https://u:p@bridge.example/simplefin"))
    )
    old_key = settings.CREDENTIALS_KEYS[0]
    settings.CREDENTIALS_KEYS = ["z5hHGVYO0b5N1Y4rYXkNrrYPuhz8RdE3ZFki73_qnvk=", old_key]
    assert services.connections_reencrypt() == 1
    settings.CREDENTIALS_KEYS = ["z5hHGVYO0b5N1Y4rYXkNrrYPuhz8RdE3ZFki73_qnvk="]
    connection.refresh_from_db()
    assert credentials_decrypt(connection.encrypted_credentials).access_url == "https://u:p@bridge.example/simplefin"
