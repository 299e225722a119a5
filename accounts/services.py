"""Writes to institutions, connections and accounts."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mint.tasks import enqueue_on_commit

from .credentials import BankCredentials, CredentialsUnreadable, credentials_decrypt, credentials_encrypt
from .models import Account, Connection, Institution
from .providers import get_provider
from .providers.base import (
    AccountRef,
    ConnectionParams,
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
    Statement,
)
from .providers.http import UnsafeURL

logger = logging.getLogger(__name__)


def connection_create(
    *,
    user,
    url: str,
    login: str,
    password: str,
    institution: Institution | None = None,
    provider: str = Connection.Provider.OFX,
    history_days: int | None = None,
) -> Connection:
    """Link an institution: check the login with it, store it encrypted, queue the first sync.

    Raises a ProviderError (nothing stored) when the URL is refused, the bank cannot be
    reached or it rejects the credentials.
    """
    params = ConnectionParams(
        url=url,
        org=institution.ofx_org if institution else "",
        fid=institution.ofx_fid if institution else "",
        bank_id=institution.bank_id if institution else "",
    )
    credentials = BankCredentials(login=login, password=password)
    discovered = get_provider(provider).discover(params, credentials)
    days = settings.SYNC_INITIAL_DAYS if history_days is None else history_days
    with transaction.atomic():
        connection = Connection.objects.create(
            user=user,
            institution=institution,
            provider=provider,
            url=url,
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
                bank_id=found.ref.bank_id,
                currency=found.currency,
            )
            for found in discovered
        )
        enqueue_on_commit("transactions.tasks.connection_sync", connection.pk)
    logger.info("user %s linked connection %s (%d accounts)", user.pk, connection.pk, len(discovered))
    return connection


def connect_error_field(exc: ProviderError) -> str:
    """Which connect-form field a provider error belongs to, for the API and the web form."""
    if isinstance(exc, ProviderAuthError):
        return "account_password"
    if isinstance(exc, UnsafeURL | ProviderUnavailable):
        return "account_url"
    return "non_field_errors"


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


def connection_sync_claim(*, connection: Connection) -> bool:
    """Take the connection for one sync job; False if another job holds it.

    A conditional UPDATE, so exactly one of two racing jobs wins. The claim expires
    after the task timeout, so a worker killed mid-sync does not block the next one.
    """
    now = timezone.now()
    expires = now + dt.timedelta(seconds=settings.Q_CLUSTER["timeout"])
    claimed = (
        Connection.objects.filter(pk=connection.pk)
        .filter(Q(sync_lock_expires_at__isnull=True) | Q(sync_lock_expires_at__lt=now))
        .update(sync_lock_expires_at=expires)
    )
    return claimed == 1


def connection_sync_release(*, connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(sync_lock_expires_at=None)


def connection_sync_succeeded(*, connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.ACTIVE, last_synced_at=timezone.now(), last_error=""
    )


def connection_sync_failed(*, connection: Connection, message: str) -> None:
    Connection.objects.filter(pk=connection.pk).update(last_error=message)


def connection_needs_attention(*, connection: Connection, message: str) -> None:
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.NEEDS_ATTENTION, last_error=message)


def account_ref(*, account: Account) -> AccountRef:
    return AccountRef(external_id=account.external_id, kind=account.kind, bank_id=account.bank_id)


def account_for_statement(*, connection: Connection, statement: Statement) -> Account:
    """The connection's account a statement belongs to; one the bank added since linking is created."""
    account, _ = Account.objects.get_or_create(
        connection=connection,
        external_id=statement.account.external_id,
        defaults={
            "user_id": connection.user_id,
            "name": f"Account {statement.account.external_id[-4:]}",
            "kind": statement.account.kind,
            "bank_id": statement.account.bank_id,
            "currency": statement.currency,
        },
    )
    return account


def account_get_or_create_for_file(*, user, name: str, kind: str, currency: str) -> Account:
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
