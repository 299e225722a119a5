"""The ingestion pipeline and every other write to transactions and monthly_spending.

Store raw -> parse -> dedupe -> categorize -> insert rows and aggregate deltas in one
database transaction -> after commit, invalidate the cached month and tell budgets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Account, Connection
from accounts.providers import get_provider
from accounts.providers.base import (
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderUnavailable,
    Statement,
    StatementLine,
)
from accounts.providers.ofx import statements_parse
from categories.categorizer import get_categorizer
from categories.models import Category, CategorySource
from categories.selectors import user_rules_for
from categories.services import unmatched_merchants_record, user_rule_set, vote_record
from mint.db import transaction_lock
from mint.models import User
from notifications.services import notification_create

from .aggregates import (
    Delta,
    MonthCategory,
    account_history_deltas,
    after_spending_change,
    month_of,
    monthly_spending_apply,
    spending_lock_name,
)
from .models import RawPayload, Transaction

logger = logging.getLogger(__name__)

EXISTING_LOOKUP_CHUNK = 1000
FILE_SUFFIXES = (".ofx", ".qfx")


@dataclass(frozen=True)
class ImportResult:
    new: int
    existing: int
    months: frozenset[dt.date] = field(default_factory=frozenset)


def raw_payload_store(
    *, user_id: int, raw: bytes, source: str, connection: Connection | None = None, extension: str = "ofx"
) -> RawPayload:
    """Write the payload to the object store before anything parses it."""
    digest = hashlib.sha256(raw).hexdigest()
    folder = f"connection-{connection.pk}" if connection else "files"
    name = f"{user_id}/{folder}/{timezone.now():%Y/%m/%d/%H%M%S%f}-{digest[:12]}.{extension}"
    payload = RawPayload(user_id=user_id, connection=connection, source=source, sha256=digest, size=len(raw))
    payload.file.save(name, ContentFile(raw), save=False)
    payload.save()
    return payload


def statements_ingest(
    *, user_id: int, statements: Sequence[tuple[Account, Statement]], raw_payload: RawPayload | None = None
) -> ImportResult:
    """Insert the statements' new transactions and their aggregate deltas, all or nothing."""
    categorizer = get_categorizer()
    new_rows: list[Transaction] = []
    unmatched: dict[str, tuple[int, str]] = {}
    existing = 0
    deltas: dict[MonthCategory, Delta] = defaultdict(Delta)
    # One account's lines from every statement in the payload; a FITID seen twice counts once.
    lines_by_account: dict[int, dict[str, tuple[StatementLine, str]]] = defaultdict(dict)
    for account, statement in statements:
        for line in statement.lines:
            lines_by_account[account.pk].setdefault(line.external_id, (line, statement.currency))
    with transaction.atomic():
        # One import per account at a time: the second waits here, then finds the rows.
        account_pks = {account.pk for account, _ in statements}
        locked = {account.pk: account for account in Account.objects.select_for_update().filter(pk__in=account_pks)}
        user_rules = user_rules_for(user_id=user_id)
        for account_pk, lines in lines_by_account.items():
            account = locked[account_pk]
            known = _existing_external_ids(account, list(lines))
            existing += len(known)
            for external_id, (line, currency) in lines.items():
                if external_id in known:
                    continue
                decision = categorizer.categorize(
                    line.description, amount=line.amount, mcc=line.mcc, user_rules=user_rules
                )
                if decision.source == CategorySource.FALLBACK and decision.merchant_key:
                    count, _ = unmatched.get(decision.merchant_key, (0, ""))
                    unmatched[decision.merchant_key] = (count + 1, line.description)
                new_rows.append(
                    Transaction(
                        user_id=user_id,
                        account=account,
                        external_id=external_id,
                        posted_on=line.posted_on,
                        amount=line.amount,
                        currency=currency,
                        description=line.description,
                        memo=line.memo,
                        mcc=line.mcc,
                        merchant_id=decision.merchant_id,
                        merchant_key=decision.merchant_key,
                        category_id=decision.category_id,
                        category_source=decision.source,
                        raw_payload=raw_payload,
                    )
                )
                delta = deltas[(month_of(line.posted_on), decision.category_id)]
                delta.amount += line.amount
                delta.count += 1
        for account, statement in statements:
            account_services.account_balance_update(
                account=locked[account.pk], balance=statement.balance, as_of=statement.balance_as_of
            )
        Transaction.objects.bulk_create(new_rows, batch_size=1000)
        monthly_spending_apply(user_id=user_id, deltas=deltas)
        unmatched_merchants_record(user_id=user_id, seen=unmatched)
        if raw_payload is not None:
            raw_payload.status = RawPayload.Status.IMPORTED
            raw_payload.rows_new = len(new_rows)
            raw_payload.rows_existing = existing
            raw_payload.save(update_fields=["status", "rows_new", "rows_existing"])
        months = frozenset(month for month, _ in deltas)
        after_spending_change(user_id, months)
    return ImportResult(new=len(new_rows), existing=existing, months=months)


def _existing_external_ids(account: Account, external_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(external_ids), EXISTING_LOOKUP_CHUNK):
        chunk = external_ids[start : start + EXISTING_LOOKUP_CHUNK]
        found.update(
            Transaction.objects.filter(account=account, external_id__in=chunk).values_list("external_id", flat=True)
        )
    return found


def _payload_failed(payload: RawPayload, error: str) -> None:
    payload.status = RawPayload.Status.FAILED
    payload.error = error
    payload.save(update_fields=["status", "error"])


@dataclass(frozen=True)
class SyncOutcome:
    status: str  # "imported", "partial", "skipped", "gave-up", "needs-attention" or "failed"
    result: ImportResult | None = None
    message: str = ""


def connection_sync(*, connection: Connection) -> SyncOutcome:
    """Fetch, store, parse and import a connection's new statements.

    Safe to run twice at once or to redeliver: a second job for the same connection
    finds it claimed and does nothing, and a replayed statement inserts no row twice.
    Raises ProviderUnavailable (worth a retry); every other failure is recorded on the
    connection for the user.
    """
    claim = account_services.connection_sync_claim(connection=connection)
    if claim is None:
        return SyncOutcome("skipped")
    if claim.attempts > settings.SYNC_MAX_ATTEMPTS:
        # The last attempts never finished (a worker killed by its payload): stop redelivering.
        message = "Importing from this bank keeps failing, so it has been paused. Refresh to try again."
        account_services.connection_needs_attention(connection=connection, message=message)
        account_services.connection_sync_release(connection=connection, claim=claim)
        logger.error("connection %s: gave up after %d unfinished sync attempts", connection.pk, claim.attempts - 1)
        return SyncOutcome("gave-up", message=message)
    payload = None
    try:
        credentials = account_services.connection_credentials(connection=connection)
        accounts = list(connection.accounts.all())
        today = timezone.localdate()
        if connection.last_synced_at is not None:
            start = connection.last_synced_at.date() - dt.timedelta(days=settings.SYNC_OVERLAP_DAYS)
        else:
            start = connection.history_from
        provider = get_provider(connection.provider)
        raw = provider.fetch(
            account_services.connection_params(connection=connection),
            credentials,
            [account_services.account_ref(account=account) for account in accounts],
            start,
            today,
        )
        payload = raw_payload_store(
            user_id=connection.user_id, raw=raw, source=RawPayload.Source.DIRECT, connection=connection
        )
        parsed = provider.parse(raw)
        pairs = [
            (account_services.account_for_statement(connection=connection, statement=statement), statement)
            for statement in parsed.statements
        ]
        result = statements_ingest(user_id=connection.user_id, statements=pairs, raw_payload=payload)
    except ProviderAuthError as exc:
        account_services.connection_needs_attention(connection=connection, message=str(exc))
        if payload is not None:
            _payload_failed(payload, str(exc))
        return SyncOutcome("needs-attention", message=str(exc))
    except ProviderUnavailable as exc:
        account_services.connection_sync_failed(connection=connection, message=str(exc))
        raise
    except ProviderError as exc:
        account_services.connection_sync_failed(connection=connection, message=str(exc))
        if payload is not None:
            _payload_failed(payload, str(exc))
        return SyncOutcome("failed", message=str(exc))
    finally:
        account_services.connection_sync_release(connection=connection, claim=claim)
    if parsed.problems:
        # What arrived is imported; the sync point stays put so the next sync asks again.
        message = " ".join(parsed.problems)
        account_services.connection_sync_failed(connection=connection, message=message)
        return SyncOutcome("partial", result, message)
    account_services.connection_sync_succeeded(connection=connection)
    if result.new:
        name = account_services.connection_display_name(connection=connection)
        notification_create(
            user=connection.user,
            kind="import.finished",
            subject=f"{result.new:,} new transaction{'s' if result.new != 1 else ''} from {name}",
            body=f"Your accounts at {name} are up to date: {result.new:,} new, categorized and counted.",
            dedupe_key=f"import:{payload.pk}",
            context={"connection": connection.pk},
            email=False,  # an everyday event: in the app only
        )
    return SyncOutcome("imported", result)


def file_import(*, user: User, account_name: str, raw: bytes, filename: str) -> ImportResult:
    """Import a statement file into the user's account of that name (created if needed)."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in FILE_SUFFIXES:
        supported = ", ".join(FILE_SUFFIXES)
        raise ValidationError(f"Unsupported file type {suffix or '(none)'!r}; supported: {supported}.")
    if not account_name.strip():
        raise ValidationError("An account name is required.")
    payload = raw_payload_store(user_id=user.pk, raw=raw, source=RawPayload.Source.FILE, extension=suffix[1:])
    try:
        statements = statements_parse(raw).statements
        if len(statements) != 1:
            raise ProviderDataError(
                f"The file holds statements for {len(statements)} accounts; import one account's file at a time."
            )
    except ProviderError as exc:
        _payload_failed(payload, str(exc))
        raise ValidationError(str(exc)) from None
    statement = statements[0]
    with transaction.atomic():  # the account only exists if its rows do
        account = account_services.account_get_or_create_for_file(
            user=user, name=account_name.strip(), kind=statement.account.kind, currency=statement.currency
        )
        return statements_ingest(user_id=user.pk, statements=[(account, statement)], raw_payload=payload)


def transaction_recategorize(
    *, txn: Transaction, category: Category, always: bool = False, include_past: bool = False
) -> Transaction:
    """The user's manual choice for a transaction: sticky, and a crowd vote for its merchant.

    With `always`, also the user's rule for the merchant's future transactions; with
    `include_past` as well, their past ones that nothing had categorized move too. Every
    row is locked before any total changes, and all the months touched are re-aggregated in
    one statement (in key order, like ingestion, so the two cannot deadlock). The user's
    spending lock comes first, as for every other writer of the totals, so a concurrent
    deletion of the account either finishes before (and the row is gone) or waits.
    """
    with transaction.atomic():
        transaction_lock(spending_lock_name(txn.user_id))
        rows = Transaction.objects.filter(pk=txn.pk)
        if always and include_past:
            rows = Transaction.objects.filter(
                Q(pk=txn.pk)
                | Q(user_id=txn.user_id, merchant_key=txn.merchant_key, category_source=CategorySource.FALLBACK)
            )
        locked = list(
            rows.select_for_update(of=("self",))
            .select_related("merchant", "account")
            .order_by("pk")
            .only("pk", "user_id", "posted_on", "category_id", "amount", "merchant_key", "merchant", "account")
        )
        txn = next((row for row in locked if row.pk == txn.pk), None)  # type: ignore[assignment]
        if txn is None:
            raise ValidationError("This transaction no longer exists; its account was removed.")
        deltas: dict[MonthCategory, Delta] = defaultdict(Delta)
        for row in locked:
            if row.category_id != category.pk:
                month = month_of(row.posted_on)
                deltas[(month, row.category_id)].amount -= row.amount
                deltas[(month, row.category_id)].count -= 1
                deltas[(month, category.pk)].amount += row.amount
                deltas[(month, category.pk)].count += 1
        now = timezone.now()
        Transaction.objects.filter(pk=txn.pk).update(
            category=category, category_source=CategorySource.MANUAL, updated_at=now
        )
        others = [row.pk for row in locked if row.pk != txn.pk]
        if others:
            Transaction.objects.filter(pk__in=others).update(
                category=category, category_source=CategorySource.USER_RULE, updated_at=now
            )
        monthly_spending_apply(user_id=txn.user_id, deltas=deltas)
        after_spending_change(txn.user_id, {month_of(row.posted_on) for row in locked})
        if txn.account.connection_id is not None:
            # Only transactions a bank sent count: a file can be written to say anything.
            vote_record(user_id=txn.user_id, merchant_key=txn.merchant_key, category=category)
        if always:
            merchant_name = txn.merchant.name if txn.merchant else txn.merchant_key.title()
            user_rule_set(
                user_id=txn.user_id, merchant_key=txn.merchant_key, merchant_name=merchant_name, category=category
            )
    txn.category, txn.category_source = category, CategorySource.MANUAL
    return txn


def account_history_delete(*, account: Account) -> int:
    """Delete an account's transactions and take them off the monthly totals, all or nothing."""
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)  # no import into it meanwhile
        removed = account_history_remove_totals(account=account)
        Transaction.objects.filter(account_id=account.pk).delete()
    return removed


def account_history_remove_totals(*, account: Account) -> int:
    """Subtract an account's transactions from monthly_spending before they are deleted.

    Also runs for every deletion of an Account (a connection or the admin deleting one),
    inside the deleting transaction, so no path can remove rows and leave their totals.
    """
    # Locks in the order every writer takes them (the account, then the user's totals) before
    # reading: an import into the account, or a recategorization of one of its rows, that has
    # not committed yet would otherwise be counted from its old state.
    Account.objects.select_for_update().filter(pk=account.pk).values_list("pk", flat=True).first()
    transaction_lock(spending_lock_name(account.user_id))
    deltas = account_history_deltas(account.pk)
    if not deltas:
        return 0
    monthly_spending_apply(user_id=account.user_id, deltas=deltas)
    after_spending_change(account.user_id, {month for month, _ in deltas})
    return -sum(delta.count for delta in deltas.values())
