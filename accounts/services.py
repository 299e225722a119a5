"""Writes to institutions, connections and accounts."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from mint.models import User
from mint.tasks import enqueue_on_commit
from notifications.services import notification_create

from .credentials import (
    BankCredentials,
    CredentialsUnreadable,
    credentials_decrypt,
    credentials_encrypt,
    credentials_reencrypt,
)
from .models import Account, Connection, Institution
from .providers import get_provider
from .providers.base import AccountRef, ConnectionParams, DiscoveredAccount, ProviderAuthError, Statement

logger = logging.getLogger(__name__)


class AlreadyLinked(Exception):
    """These accounts are already linked for the user: linking them again would count everything twice."""


def connection_create(
    *,
    user: User,
    url: str,
    login: str,
    password: str,
    institution: Institution | None = None,
    provider: str = Connection.Provider.OFX,
    history_days: int | None = None,
) -> Connection:
    """Link an institution: check the login with it, store it encrypted, queue the first sync.

    Raises a ProviderError (nothing stored) when the URL is refused, the bank cannot be
    reached or it rejects the credentials, and AlreadyLinked when the user has linked
    these accounts before.
    """
    params = ConnectionParams(
        url=url,
        org=institution.ofx_org if institution else "",
        fid=institution.ofx_fid if institution else "",
        bank_id=institution.bank_id if institution else "",
    )
    credentials = BankCredentials(login=login, password=password)
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
        bank_id=params.bank_id or next((a.ref.bank_id for a in discovered if a.ref.bank_id), ""),
        encrypted_credentials=credentials_encrypt(credentials),
        history_from=timezone.localdate() - dt.timedelta(days=days),
    )
    Account.objects.bulk_create(
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
        for found in discovered
    )
    enqueue_on_commit("transactions.tasks.connection_sync", connection.pk)
    return connection


def connection_refresh(*, connection: Connection) -> None:
    enqueue_on_commit("transactions.tasks.connection_sync", connection.pk)


def connection_params(*, connection: Connection) -> ConnectionParams:
    return ConnectionParams(
        url=connection.url, org=connection.ofx_org, fid=connection.ofx_fid, bank_id=connection.bank_id
    )


def connection_credentials(*, connection: Connection) -> BankCredentials:
    try:
        return credentials_decrypt(connection.encrypted_credentials)
    except CredentialsUnreadable:
        logger.error("connection %s: stored credentials do not decrypt with CREDENTIALS_KEYS", connection.pk)
        raise ProviderAuthError("Your saved bank login could not be read. Please enter it again.") from None


@dataclass(frozen=True)
class SyncClaim:
    expires_at: dt.datetime  # also this job's token: only it can release the claim
    attempts: int  # syncs started and not finished, this one included


def connection_sync_claim(*, connection: Connection) -> SyncClaim | None:
    """Take the connection for one sync job; None if another job holds it.

    A conditional UPDATE, so exactly one of two racing jobs wins. The claim expires
    after the task timeout, so a worker killed mid-sync does not block the next one.
    """
    now = timezone.now()
    expires = now + dt.timedelta(seconds=settings.Q_CLUSTER["timeout"])
    claimed = (
        Connection.objects.filter(pk=connection.pk)
        .filter(Q(sync_lock_expires_at__isnull=True) | Q(sync_lock_expires_at__lt=now))
        .update(sync_lock_expires_at=expires, sync_attempts=F("sync_attempts") + 1)
    )
    if claimed != 1:
        return None
    attempts = Connection.objects.values_list("sync_attempts", flat=True).get(pk=connection.pk)
    return SyncClaim(expires_at=expires, attempts=attempts)


def connection_sync_release(*, connection: Connection, claim: SyncClaim) -> None:
    """Release our claim; one that expired and was taken by another job is left alone."""
    Connection.objects.filter(pk=connection.pk, sync_lock_expires_at=claim.expires_at).update(sync_lock_expires_at=None)


def connection_sync_succeeded(*, connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.ACTIVE, last_synced_at=timezone.now(), last_error="", sync_attempts=0
    )


def connection_sync_failed(*, connection: Connection, message: str) -> None:
    """The sync ended with an error the user can read; the next one starts from the same point."""
    Connection.objects.filter(pk=connection.pk).update(last_error=message, sync_attempts=0)


def connection_needs_attention(*, connection: Connection, message: str) -> None:
    """Pause the connection until the user acts; tell them once per episode, by email and in the app."""
    with transaction.atomic():
        newly = (
            Connection.objects.filter(pk=connection.pk)
            .exclude(status=Connection.Status.NEEDS_ATTENTION)
            .update(status=Connection.Status.NEEDS_ATTENTION, last_error=message, sync_attempts=0)
        )
        if not newly:
            Connection.objects.filter(pk=connection.pk).update(last_error=message, sync_attempts=0)
            return
        name = connection_display_name(connection=connection)
        notification_create(
            user=connection.user,
            kind="connection.needs-attention",
            subject=f"Your connection to {name} needs attention",
            body=f"We could not update your accounts at {name}: {message}",
            dedupe_key=f"connection-attention:{connection.pk}:{timezone.now().isoformat()}",
            context={"connection": connection.pk},
        )


def connection_display_name(*, connection: Connection) -> str:
    if connection.institution_id is not None and connection.institution is not None:
        return connection.institution.name
    return urlsplit(connection.url).hostname or connection.url


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
