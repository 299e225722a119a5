"""Writes to institutions, connections and accounts."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Mod
from django.utils import timezone

from mint.models import User
from mint.tasks import enqueue_on_commit, schedule_once
from notifications.services import notification_create

from .credentials import (
    BankCredentials,
    CredentialsUnreadable,
    credentials_decrypt,
    credentials_encrypt,
    credentials_reencrypt,
)
from .models import Account, Connection, Institution, OfxVersion, SyncJob
from .providers import get_provider
from .providers.base import (
    AccountRef,
    ConnectionParams,
    DiscoveredAccount,
    ProviderAuthError,
    ProviderDataError,
    Statement,
)
from .providers.ofx import ACCOUNT_TYPES, account_ref_given
from .providers.simplefin import simplefin_claim, simplefin_params

logger = logging.getLogger(__name__)


class AlreadyLinked(Exception):
    """These accounts are already linked for the user: linking them again would count everything twice."""


def connection_create(
    *,
    user: User,
    url: str = "",
    login: str,
    password: str,
    institution: Institution | None = None,
    org: str = "",
    fid: str = "",
    bank_id: str = "",
    ofx_version: int = OfxVersion.V220,
    app_id: str = "",
    app_version: str = "",
    account_id: str = "",
    account_type: str = "CHECKING",
    history_days: int | None = None,
) -> Connection:
    """Link a bank by OFX Direct Connect: check the login with it, store it encrypted, queue the first sync.

    A bank picked from the directory brings its own URL and OFX details; otherwise they are
    the ones the user typed. The accounts are discovered (ACCTINFO), unless the user names
    one (`account_id` and its OFX `account_type`) for a bank that cannot list them. Raises a
    ProviderError (nothing stored) when the URL is refused, the bank cannot be reached or it
    rejects the credentials or the account, and AlreadyLinked when the user has linked these
    accounts before.
    """
    if institution is not None:
        params = ConnectionParams(
            url=institution.ofx_url,
            org=institution.ofx_org,
            fid=institution.ofx_fid,
            bank_id=institution.bank_id,
            ofx_version=institution.ofx_version,
            app_id=institution.app_id,
            app_version=institution.app_version,
        )
    else:
        params = ConnectionParams(
            url=url,
            org=org,
            fid=fid,
            bank_id=bank_id,
            ofx_version=ofx_version,
            app_id=app_id,
            app_version=app_version,
        )
        # A URL typed by hand that the directory knows: the connection is named as the directory names it.
        institution = Institution.objects.filter(ofx_url=url).order_by("pk").first()
    credentials = BankCredentials(login=login, password=password)
    named = None
    if account_id:
        ref = account_ref_given(account_id, account_type, params.bank_id)
        named = [DiscoveredAccount(ref=ref, name=f"{ACCOUNT_TYPES[account_type]} {account_id[-4:]}")]
    return _connection_link(user, Connection.Provider.OFX, params, credentials, institution, history_days, named)


def simplefin_connection_create(*, user: User, setup_token: str, history_days: int | None = None) -> Connection:
    """Link through a SimpleFIN Bridge: claim the setup token (once, ever), then link like any bank.

    The access URL the claim returns is the credential: it is stored encrypted and only its
    origin is kept in the clear, for display.
    """
    credentials = BankCredentials(access_url=simplefin_claim(setup_token))
    params = simplefin_params(credentials.access_url)
    return _connection_link(user, Connection.Provider.SIMPLEFIN, params, credentials, None, history_days)


def _connection_link(
    user: User,
    provider: str,
    params: ConnectionParams,
    credentials: BankCredentials,
    institution: Institution | None,
    history_days: int | None,
    named: list[DiscoveredAccount] | None = None,
) -> Connection:
    if named:
        # No discovery: a week's statement proves the login and the account number both.
        source = get_provider(provider)
        today = timezone.localdate()
        refs = [account.ref for account in named]
        source.parse(source.fetch(params, credentials, refs, today - dt.timedelta(days=7), today))
        discovered = named
    else:
        discovered = get_provider(provider).discover(params, credentials)
    _refuse_linking_twice(user, discovered)
    days = settings.SYNC_INITIAL_DAYS if history_days is None else history_days
    try:
        connection = _connection_store(user, institution, provider, params, credentials, discovered, days)
    except IntegrityError:  # a concurrent request linked the same accounts first
        _refuse_linking_twice(user, discovered)
        raise
    logger.info("user %s linked connection %s (%d accounts)", user.pk, connection.pk, len(discovered))
    return connection


def _refuse_linking_twice(user: User, discovered: list[DiscoveredAccount]) -> None:
    same_account = Q()
    for found in discovered:
        same_account |= Q(bank_id=found.ref.bank_id, external_id=found.ref.external_id)
    linked = Account.objects.filter(same_account, user=user, connection__isnull=False).first()
    if linked is not None:
        raise AlreadyLinked(f"{linked.name} {linked.number_hint} is already linked. Refresh that link instead.")


@transaction.atomic
def _connection_store(
    user: User,
    institution: Institution | None,
    provider: str,
    params: ConnectionParams,
    credentials: BankCredentials,
    discovered: list[DiscoveredAccount],
    days: int,
) -> Connection:
    connection = Connection.objects.create(
        user=user,
        institution=institution,
        provider=provider,
        url=params.url,
        ofx_org=params.org,
        ofx_fid=params.fid,
        bank_id=params.bank_id
        or next((a.ref.bank_id for a in discovered if a.ref.bank_id and a.ref.kind != "investment"), ""),
        ofx_version=params.ofx_version,
        app_id=params.app_id,
        app_version=params.app_version,
        encrypted_credentials=credentials_encrypt(credentials),
        history_from=timezone.localdate() - dt.timedelta(days=days),
    )
    # Accounts kept from an earlier link of the same bank are linked again, history and all:
    # new copies would import every transaction a second time.
    kept = {
        (account.bank_id, account.external_id): account
        for account in Account.objects.select_for_update()
        .filter(user=user, connection__isnull=True)
        .exclude(external_id="")
    }
    new_accounts = []
    for found in discovered:
        account = kept.get((found.ref.bank_id, found.ref.external_id))
        if account is not None:
            account.connection = connection
            account.external_type = found.ref.external_type
            account.save(update_fields=["connection", "external_type", "updated_at"])
            continue
        new_accounts.append(
            Account(
                user=user,
                connection=connection,
                name=found.name,
                kind=found.ref.kind,
                external_id=found.ref.external_id,
                external_type=found.ref.external_type,
                bank_id=found.ref.bank_id,
                currency=found.currency,
            )
        )
    Account.objects.bulk_create(new_accounts)
    sync_job_request(connection=connection, trigger=SyncJob.Trigger.LINK)
    return connection


def sync_job_request(*, connection: Connection, trigger: str) -> tuple[SyncJob, bool]:
    """The connection's queued or running job, or a new one queued now: (job, created).

    Repeated refreshes, the daily schedule and a link all land on the one job in flight:
    the partial unique constraint turns a racing second insert into a read of the first.
    """
    in_flight = SyncJob.objects.filter(connection=connection, status__in=SyncJob.IN_FLIGHT)
    job = in_flight.first()
    if job is not None:
        return job, False
    try:
        with transaction.atomic():
            job = SyncJob.objects.create(connection=connection, user_id=connection.user_id, trigger=trigger)
    except IntegrityError:
        racer = in_flight.first()
        if racer is None:  # the racing job finished meanwhile: queue ours after all
            return sync_job_request(connection=connection, trigger=trigger)
        return racer, False
    enqueue_on_commit("transactions.tasks.sync_job_run", job.pk)
    return job, True


def sync_jobs_recover(*, now: dt.datetime | None = None) -> int:
    """Queue again the jobs whose task was lost; returns how many.

    A task can be lost after its job committed: the process dies between the commit and the
    enqueue, or the enqueue itself fails. Queued jobs nothing started for
    SYNC_JOB_STUCK_MINUTES, and running ones whose lease expired that long ago (the broker
    would have redelivered by then), get a new task. A duplicate is harmless: only one
    delivery can start a job.
    """
    now = now or timezone.now()
    stuck_since = now - dt.timedelta(minutes=settings.SYNC_JOB_STUCK_MINUTES)
    never_started = Q(status=SyncJob.Status.QUEUED) & (
        Q(next_try_at__isnull=True, created_at__lt=stuck_since) | Q(next_try_at__lt=stuck_since)
    )
    abandoned = Q(status=SyncJob.Status.RUNNING, lease_expires_at__lt=stuck_since)
    job_ids = list(SyncJob.objects.filter(never_started | abandoned).values_list("pk", flat=True)[:10_000])
    for job_id in job_ids:
        enqueue_on_commit("transactions.tasks.sync_job_run", job_id)
    if job_ids:
        logger.warning("re-queued %d sync jobs whose task was lost", len(job_ids))
    return len(job_ids)


def sync_job_latest(*, connection: Connection) -> SyncJob | None:
    return SyncJob.objects.filter(connection=connection).first()


class RefreshTooSoon(Exception):
    """The connection was refreshed moments ago; the user should wait `retry_after` seconds."""

    def __init__(self, job: SyncJob, retry_after: int) -> None:
        super().__init__(f"Refreshed a moment ago. Try again in {retry_after} seconds.")
        self.job = job
        self.retry_after = retry_after


def connection_refresh(*, connection: Connection) -> tuple[SyncJob, bool]:
    """A refresh the user asked for: the job in flight if there is one, else a new job.

    Raises RefreshTooSoon within SYNC_MANUAL_MIN_SECONDS of the last job that finished, so
    a user (or a script) cannot make the service hammer their bank.
    """
    latest = sync_job_latest(connection=connection)
    if latest is not None and latest.finished_at is not None:
        waited = (timezone.now() - latest.finished_at).total_seconds()
        if waited < settings.SYNC_MANUAL_MIN_SECONDS:
            raise RefreshTooSoon(latest, int(settings.SYNC_MANUAL_MIN_SECONDS - waited) + 1)
    job, created = sync_job_request(connection=connection, trigger=SyncJob.Trigger.MANUAL)
    backing_off = job.status == SyncJob.Status.QUEUED and job.next_try_at is not None
    # Waiting out a backoff: the user asking is the moment to try again.
    if backing_off and SyncJob.objects.filter(pk=job.pk, status=SyncJob.Status.QUEUED).update(next_try_at=None):
        job.next_try_at = None
        enqueue_on_commit("transactions.tasks.sync_job_run", job.pk)
    return job, created


def sync_job_start(*, job_id: int) -> SyncJob | None:
    """Take the job for this worker; None if it is finished, not due yet, or running elsewhere.

    A conditional UPDATE, so exactly one of two racing deliveries wins. The lease is the
    task timeout: a worker killed mid-job leaves it to expire, and the queue's redelivery
    (which comes after `retry` > `timeout` seconds) takes the job over.
    """
    now = timezone.now()
    lease = now + dt.timedelta(seconds=settings.Q_CLUSTER["timeout"])
    queued_and_due = Q(status=SyncJob.Status.QUEUED) & (Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
    abandoned = Q(status=SyncJob.Status.RUNNING, lease_expires_at__lt=now)
    started = SyncJob.objects.filter(queued_and_due | abandoned, pk=job_id).update(
        status=SyncJob.Status.RUNNING, lease_expires_at=lease, started_at=now, attempts=F("attempts") + 1
    )
    if started != 1:
        return None
    return SyncJob.objects.select_related("connection", "connection__user").get(pk=job_id)


def _job_holding_lease(job: SyncJob) -> QuerySet[SyncJob]:
    """The job, if this run still holds it: a run whose lease expired and was taken over changes nothing."""
    return SyncJob.objects.filter(pk=job.pk, status=SyncJob.Status.RUNNING, lease_expires_at=job.lease_expires_at)


def sync_job_finish(*, job: SyncJob, status: str, message: str = "", rows_new: int = 0, rows_existing: int = 0) -> None:
    _job_holding_lease(job).update(
        status=status,
        finished_at=timezone.now(),
        lease_expires_at=None,
        next_try_at=None,
        message=message,
        rows_new=rows_new,
        rows_existing=rows_existing,
    )


def sync_job_retry_later(*, job: SyncJob, message: str) -> bool:
    """Queue the job again after the next backoff delay; False (and the job failed) when none is left."""
    delays = settings.SYNC_RETRY_DELAYS
    if job.transient_failures >= len(delays):
        sync_job_finish(job=job, status=SyncJob.Status.FAILED, message=message)
        return False
    next_try = timezone.now() + dt.timedelta(seconds=delays[job.transient_failures])
    with transaction.atomic():
        updated = _job_holding_lease(job).update(
            status=SyncJob.Status.QUEUED,
            lease_expires_at=None,
            next_try_at=next_try,
            transient_failures=F("transient_failures") + 1,
            message=f"{message} Trying again at {timezone.localtime(next_try):%H:%M}.",
        )
        if updated:
            schedule_once("transactions.tasks.sync_job_run", job.pk, at=next_try)
    return True


def connection_params(*, connection: Connection) -> ConnectionParams:
    return ConnectionParams(
        url=connection.url,
        org=connection.ofx_org,
        fid=connection.ofx_fid,
        bank_id=connection.bank_id,
        ofx_version=connection.ofx_version,
        app_id=connection.app_id,
        app_version=connection.app_version,
    )


def connection_credentials(*, connection: Connection) -> BankCredentials:
    try:
        return credentials_decrypt(connection.encrypted_credentials)
    except CredentialsUnreadable:
        logger.error("connection %s: stored credentials do not decrypt with CREDENTIALS_KEYS", connection.pk)
        raise ProviderAuthError("Your saved bank login could not be read. Please enter it again.") from None


def connection_sync_succeeded(*, connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.ACTIVE, last_synced_at=timezone.now(), last_error=""
    )


def connection_sync_failed(*, connection: Connection, message: str) -> None:
    """The sync ended with an error the user can read; the next one starts from the same point."""
    Connection.objects.filter(pk=connection.pk).update(last_error=message)


def connection_needs_attention(*, connection: Connection, message: str) -> None:
    """Pause the connection until the user acts; tell them once per episode, by email and in the app."""
    with transaction.atomic():
        newly = (
            Connection.objects.filter(pk=connection.pk)
            .exclude(status=Connection.Status.NEEDS_ATTENTION)
            .update(status=Connection.Status.NEEDS_ATTENTION, last_error=message)
        )
        if not newly:
            Connection.objects.filter(pk=connection.pk).update(last_error=message)
            return
        name = connection.display_name
        notification_create(
            user=connection.user,
            kind="connection.needs-attention",
            subject=f"Your connection to {name} needs attention",
            body=f"We could not update your accounts at {name}: {message}",
            dedupe_key=f"connection-attention:{connection.pk}:{timezone.now().isoformat()}",
            context={"connection": connection.pk},
        )


def connections_reencrypt(*, batch_size: int = 500) -> int:
    """Re-encrypt every connection's credentials under the newest key; safe to stop and rerun.

    Each row is rewritten in its own small UPDATE, so a run killed halfway leaves every
    row readable (old rows still decrypt with the older keys) and the rerun finishes it.
    """
    done = 0
    last_pk = 0
    while True:
        batch = list(
            Connection.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "encrypted_credentials")[:batch_size]
        )
        if not batch:
            return done
        for pk, token in batch:
            Connection.objects.filter(pk=pk, encrypted_credentials=token).update(
                encrypted_credentials=credentials_reencrypt(token)
            )
            done += 1
        last_pk = batch[-1][0]


def account_ref(*, account: Account) -> AccountRef:
    return AccountRef(
        external_id=account.external_id,
        kind=account.kind,
        bank_id=account.bank_id,
        external_type=account.external_type,
    )


def account_for_statement(*, connection: Connection, statement: Statement) -> Account:
    """The connection's account a statement belongs to; one the bank added since linking is created."""
    account, _ = Account.objects.get_or_create(
        connection=connection,
        external_id=statement.account.external_id,
        defaults={
            "user_id": connection.user_id,
            "name": f"Account {statement.account.external_id[-4:]}",
            "kind": statement.account.kind,
            "external_type": statement.account.external_type,
            "bank_id": statement.account.bank_id,
            "currency": statement.currency,
        },
    )
    return account


def account_get_or_create_for_file(*, user: User, name: str, kind: str, currency: str) -> Account:
    account, _ = Account.objects.get_or_create(
        user=user, connection=None, name=name, defaults={"kind": kind, "currency": currency}
    )
    return account


def account_balance_update(*, account: Account, balance: Decimal | None, as_of: dt.datetime | None) -> None:
    if balance is None:
        return
    if account.balance_as_of is not None and as_of is not None and as_of < account.balance_as_of:
        return  # an older statement replayed: keep the newer balance
    account.balance = balance
    account.balance_as_of = as_of or timezone.now()
    account.save(update_fields=["balance", "balance_as_of", "updated_at"])


def connection_credentials_replace(
    *, connection: Connection, login: str = "", password: str = "", setup_token: str = ""
) -> SyncJob:
    """New credentials for a connection (after a password change, say); its history stays.

    The new login is checked with the institution first and must still see at least one of
    the connection's accounts, so a typo cannot swap in someone else's bank. Then the
    connection is active again and a sync is queued.
    """
    if connection.provider == Connection.Provider.SIMPLEFIN:
        credentials = BankCredentials(access_url=simplefin_claim(setup_token))
    else:
        credentials = BankCredentials(login=login, password=password)
    discovered = get_provider(connection.provider).discover(connection_params(connection=connection), credentials)
    known = set(connection.accounts.values_list("external_id", flat=True))
    if known and not known & {found.ref.external_id for found in discovered}:
        raise ProviderDataError("This login does not reach the accounts linked before. Link it as a new bank instead.")
    with transaction.atomic():
        Connection.objects.filter(pk=connection.pk).update(
            encrypted_credentials=credentials_encrypt(credentials),
            status=Connection.Status.ACTIVE,
            last_error="",
            updated_at=timezone.now(),
        )
        job, _ = sync_job_request(connection=connection, trigger=SyncJob.Trigger.CREDENTIALS)
    logger.info("user %s replaced the credentials of connection %s", connection.user_id, connection.pk)
    return job


def connection_disconnect(*, connection: Connection, keep_history: bool) -> None:
    """Unlink: the credentials go; the accounts' transactions stay as file accounts, or go with them.

    Kept accounts keep every row and total and can take file uploads from then on. Deleted
    ones take their rows off the monthly totals in the same transaction (the Account
    pre_delete handler does that for every path that deletes accounts).
    """
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection.pk)
        if keep_history:
            taken = set(
                Account.objects.filter(user_id=connection.user_id, connection__isnull=True).values_list(
                    "name", flat=True
                )
            )
            for account in connection.accounts.select_for_update().order_by("pk"):
                account.name = _free_name(account.name, taken)
                account.connection = None
                account.save(update_fields=["name", "connection", "updated_at"])
        connection.delete()
    logger.info(
        "user %s disconnected connection %s (history kept: %s)", connection.user_id, connection.pk, keep_history
    )


def _free_name(name: str, taken: set[str]) -> str:
    candidate, number = name[:120], 2
    while candidate in taken:
        suffix = f" ({number})"
        candidate, number = name[: 120 - len(suffix)] + suffix, number + 1
    taken.add(candidate)
    return candidate


def daily_refresh_enqueue(*, now: dt.datetime | None = None) -> int:
    """Queue today's refresh for the connections whose slot in the daily window has come.

    Runs every SYNC_DAILY_TICK_MINUTES. The window opens at SYNC_DAILY_AT and is cut into
    slots; a connection's slot is its id modulo the number of slots, so each tick queues
    about the same share and the banks see an even load. A tick queues every due slot not
    yet queued today, so a missed tick is caught up by the next (after the window closes
    too, until the next one opens). Only active connections of
    users seen in the last SYNC_ACTIVE_DAYS days are refreshed. Returns how many were queued.
    """
    now = timezone.localtime(now)
    hour, minute = (int(part) for part in settings.SYNC_DAILY_AT.split(":"))
    opens = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if now < opens:
        opens -= dt.timedelta(days=1)  # a window that started yesterday may still be open
    # In UTC: two wall-clock times in one zone subtract as if no clock had changed in between.
    elapsed = (now.astimezone(dt.UTC) - opens.astimezone(dt.UTC)).total_seconds() / 60
    slots = max(1, settings.SYNC_DAILY_WINDOW_MINUTES // settings.SYNC_DAILY_TICK_MINUTES)
    # After the window, ticks keep catching up what a late or missed tick left, until the next opens.
    due_slot = min(int(elapsed // settings.SYNC_DAILY_TICK_MINUTES), slots - 1)
    day = opens.date()
    due = (
        Connection.objects.filter(
            status=Connection.Status.ACTIVE,
            user__last_active_on__gte=day - dt.timedelta(days=settings.SYNC_ACTIVE_DAYS),
            user__is_active=True,
        )
        .exclude(daily_refresh_on=day)
        .alias(slot=Mod("pk", slots))
        .filter(slot__lte=due_slot)
    )
    queued = 0
    for batch in _pk_batches(due):
        with transaction.atomic():
            connections = list(
                Connection.objects.select_for_update(skip_locked=True)
                .filter(pk__in=batch)
                .exclude(daily_refresh_on=day)
                .only("pk", "user_id")
            )
            for connection in connections:
                sync_job_request(connection=connection, trigger=SyncJob.Trigger.DAILY)
            Connection.objects.filter(pk__in=[c.pk for c in connections]).update(daily_refresh_on=day)
            queued += len(connections)
    return queued


def _pk_batches(queryset: QuerySet[Connection], size: int = 1000) -> Iterator[list[int]]:
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not batch:
            return
        yield batch
        last = batch[-1]
