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
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Account, Connection, SyncJob
from accounts.providers import get_provider
from accounts.providers.base import (
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderUnavailable,
    Statement,
    StatementLine,
)
from accounts.providers.files import (
    CsvMapping,
    CsvPreview,
    csv_parse,
    csv_preview,
    file_format_detect,
    file_parse,
)
from categories.categorizer import get_categorizer
from categories.models import Category, CategorySource
from categories.selectors import category_ids_by_path, user_rules_for
from categories.services import unmatched_merchants_record, user_rule_set, vote_record
from mint.db import transaction_lock
from mint.models import User
from mint.tasks import schedule_once
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
from .models import MonthlySpending, RawPayload, Transaction, TransactionKey

logger = logging.getLogger(__name__)

EXISTING_LOOKUP_CHUNK = 1000
# From this many lines an uploaded file goes through the bulk path (transactions/bulk.py).
BULK_IMPORT_MIN_LINES = 1000


@dataclass(frozen=True)
class ImportResult:
    new: int
    existing: int
    months: frozenset[dt.date] = field(default_factory=frozenset)
    updated: int = 0  # pending rows the source has since posted, changed or dropped


PROVIDER_FORMATS: dict[str, str] = {Connection.Provider.OFX: "ofx", Connection.Provider.SIMPLEFIN: "simplefin"}
FORMAT_EXTENSIONS = {"simplefin": "json"}


def raw_payload_store(
    *,
    user_id: int,
    raw: bytes,
    source: str,
    file_format: str,
    connection: Connection | None = None,
    filename: str = "",
) -> RawPayload:
    """Write the payload to the object store before anything parses it."""
    digest = hashlib.sha256(raw).hexdigest()
    folder = f"connection-{connection.pk}" if connection else "files"
    extension = FORMAT_EXTENSIONS.get(file_format, file_format)
    name = f"{user_id}/{folder}/{timezone.now():%Y/%m/%d/%H%M%S%f}-{digest[:12]}.{extension}"
    payload = RawPayload(
        user_id=user_id,
        connection=connection,
        source=source,
        file_format=file_format,
        filename=filename[:255],
        sha256=digest,
        size=len(raw),
    )
    payload.file.save(name, ContentFile(raw), save=False)
    payload.save()
    return payload


@dataclass(frozen=True)
class _KnownRow:
    pk: int
    pending: bool
    posted_on: dt.date
    amount: Decimal
    category_id: int


def statements_ingest(
    *,
    user_id: int,
    statements: Sequence[tuple[Account, Statement]],
    raw_payload: RawPayload | None = None,
    window: tuple[dt.date, dt.date] | None = None,
    replay: bool = False,
) -> ImportResult:
    """Insert the statements' new transactions and their aggregate deltas, all or nothing.

    A pending row the source now states differently (posted, or a changed amount) is
    updated in place, keeping its category; with the `window` a fetch covered, a pending
    row inside it that the source no longer lists is dropped (the bank replaced or voided
    it). Posted rows are never changed. A `replay` of an old payload skips its pending lines:
    they say what was pending then, and the rows have moved on since.
    """
    categorizer = get_categorizer()
    new_rows: list[Transaction] = []
    restated: list[Transaction] = []  # pending rows the source now states differently
    unmatched: dict[str, tuple[int, str]] = {}
    existing = updated = 0
    deltas: dict[MonthCategory, Delta] = defaultdict(Delta)
    # One account's lines from every statement in the payload; a FITID seen twice counts once.
    lines_by_account: dict[int, dict[str, tuple[StatementLine, str]]] = defaultdict(dict)
    incomplete = {account.pk for account, statement in statements if not statement.complete}
    for account, statement in statements:
        lines_by_account[account.pk]
        for line in statement.lines:
            if not (replay and line.pending):
                lines_by_account[account.pk].setdefault(line.external_id, (line, statement.currency))
    with transaction.atomic():
        # One import per account at a time: the second waits here, then finds the rows. Then the
        # user's totals, before any row is read: the lock order of every writer of the totals
        # (accounts, the spending lock, rows), so a recategorization cannot change a pending
        # row between our read of its category and our delta.
        account_pks = set(lines_by_account)
        locked = {
            account.pk: account
            for account in Account.objects.select_for_update().filter(pk__in=account_pks).order_by("pk")
        }
        transaction_lock(spending_lock_name(user_id))
        user_rules = user_rules_for(user_id=user_id)
        provider_categories = category_ids_by_path(
            line.category for lines in lines_by_account.values() for line, _ in lines.values()
        )
        now = timezone.now()
        for account_pk, lines in lines_by_account.items():
            account = locked[account_pk]
            known = _known_rows(account, list(lines))
            for external_id, (line, currency) in lines.items():
                row = known.get(external_id)
                if row is not None:
                    existing += 1
                    if row.pending and _pending_changed(row, line):
                        _delta_add(deltas, row.posted_on, row.category_id, -row.amount, -1)
                        _delta_add(deltas, line.posted_on, row.category_id, line.amount, 1)
                        restated.append(
                            Transaction(
                                pk=row.pk,
                                pending=line.pending,
                                posted_on=line.posted_on,
                                amount=line.amount,
                                description=line.description,
                                memo=line.memo,
                                updated_at=now,
                            )
                        )
                    continue
                decision = categorizer.categorize(
                    line.description,
                    amount=line.amount,
                    mcc=line.mcc,
                    provider_category=provider_categories.get(line.category),
                    user_rules=user_rules,
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
                        pending=line.pending,
                        merchant_id=decision.merchant_id,
                        merchant_key=decision.merchant_key,
                        category_id=decision.category_id,
                        category_source=decision.source,
                        raw_payload=raw_payload,
                    )
                )
                _delta_add(deltas, line.posted_on, decision.category_id, line.amount, 1)
            if window is not None and account_pk not in incomplete:
                updated += _vanished_pending_remove(account, set(lines), window, deltas)
        for account, statement in statements:
            account_services.account_balance_update(
                account=locked[account.pk], balance=statement.balance, as_of=statement.balance_as_of
            )
        Transaction.objects.bulk_create(new_rows, batch_size=1000)
        # The dedupe authority (the transactions table has no unique key: see TransactionKey). A
        # plain insert: a writer that got past the account lock would fail here, and roll back.
        TransactionKey.objects.bulk_create(
            [
                TransactionKey(account_id=row.account_id, external_id=row.external_id, transaction_id=row.pk)
                for row in new_rows
            ],
            batch_size=1000,
        )
        Transaction.objects.bulk_update(
            restated, ["pending", "posted_on", "amount", "description", "memo", "updated_at"], batch_size=1000
        )
        updated += len(restated)
        monthly_spending_apply(user_id=user_id, deltas=deltas)
        unmatched_merchants_record(user_id=user_id, seen=unmatched)
        if raw_payload is not None:
            # Cumulative over replays: every row this payload ever added.
            RawPayload.objects.filter(pk=raw_payload.pk).update(
                status=RawPayload.Status.IMPORTED,
                rows_new=F("rows_new") + len(new_rows),
                rows_existing=existing,
                error="",
            )
        months = frozenset(month for month, _ in deltas)
        after_spending_change(user_id, months)
    return ImportResult(new=len(new_rows), existing=existing, months=months, updated=updated)


def _pending_changed(row: _KnownRow, line: StatementLine) -> bool:
    return not line.pending or line.amount != row.amount or line.posted_on != row.posted_on


def _delta_add(
    deltas: dict[MonthCategory, Delta], posted_on: dt.date, category_id: int, amount: Decimal, count: int
) -> None:
    delta = deltas[(month_of(posted_on), category_id)]
    delta.amount += amount
    delta.count += count


def _known_rows(account: Account, external_ids: list[str]) -> dict[str, _KnownRow]:
    found: dict[str, _KnownRow] = {}
    fields = ("external_id", "pk", "pending", "posted_on", "amount", "category_id")
    for start in range(0, len(external_ids), EXISTING_LOOKUP_CHUNK):
        chunk = external_ids[start : start + EXISTING_LOOKUP_CHUNK]
        for external_id, pk, pending, posted_on, amount, category_id in Transaction.objects.filter(
            account=account, external_id__in=chunk
        ).values_list(*fields):
            found[external_id] = _KnownRow(pk, pending, posted_on, amount, category_id)
    return found


def _vanished_pending_remove(
    account: Account, listed: set[str], window: tuple[dt.date, dt.date], deltas: dict[MonthCategory, Delta]
) -> int:
    vanished = {
        external_id: _KnownRow(pk, pending, posted_on, amount, category_id)
        for external_id, pk, pending, posted_on, amount, category_id in Transaction.objects.filter(
            account=account, pending=True, posted_on__range=window
        ).values_list("external_id", "pk", "pending", "posted_on", "amount", "category_id")
        if external_id not in listed
    }
    for row in vanished.values():
        _delta_add(deltas, row.posted_on, row.category_id, -row.amount, -1)
    Transaction.objects.filter(pk__in=[row.pk for row in vanished.values()]).delete()
    # Its key goes too: should the bank list the line again, it is a new row.
    TransactionKey.objects.filter(account=account, external_id__in=list(vanished)).delete()
    return len(vanished)


def _payload_failed(payload: RawPayload, error: str) -> None:
    payload.status = RawPayload.Status.FAILED
    payload.error = error
    payload.save(update_fields=["status", "error"])


@dataclass(frozen=True)
class SyncOutcome:
    # "imported", "partial", "skipped", "not-due", "gave-up", "needs-attention", "credentials-changed",
    # "retrying" or "failed"
    status: str
    result: ImportResult | None = None
    message: str = ""


def sync_job_run(*, job_id: int) -> SyncOutcome:
    """Run a sync job: fetch, store, parse and import a connection's new statements.

    Safe to deliver twice, at once or later: only one delivery can start the job, and a
    replayed statement inserts no row twice. A bank that cannot be reached is retried
    after a backoff delay; refused credentials pause the connection until the user acts.
    """
    job = account_services.sync_job_start(job_id=job_id)
    if job is None:
        return _sync_job_not_started(job_id)
    connection = job.connection
    never_finished = job.attempts - 1 - job.transient_failures
    if never_finished >= settings.SYNC_MAX_ATTEMPTS:
        # Earlier starts died with their worker (a payload that kills it): stop redelivering.
        message = "Importing from this bank keeps failing, so it has been paused. Refresh to try again."
        account_services.connection_needs_attention(connection=connection, message=message)
        account_services.sync_job_finish(job=job, status=SyncJob.Status.FAILED, message=message)
        logger.error("connection %s: gave up after %d unfinished sync attempts", connection.pk, never_finished)
        return SyncOutcome("gave-up", message=message)
    outcome = _connection_sync(connection)
    if outcome.status == "credentials-changed":
        # The user entered a new login while this run used the old one: run again with it.
        account_services.sync_job_finish(job=job, status=SyncJob.Status.FAILED, message=outcome.message)
        account_services.sync_job_request(connection=connection, trigger=SyncJob.Trigger.CREDENTIALS)
        return outcome
    if outcome.status == "retrying":
        if not account_services.sync_job_retry_later(job=job, message=outcome.message):
            account_services.connection_sync_failed(connection=connection, message=outcome.message)
            return SyncOutcome("failed", message=outcome.message)
        return outcome
    result = outcome.result
    account_services.sync_job_finish(
        job=job,
        status=SyncJob.Status.DONE if outcome.status in ("imported", "partial") else SyncJob.Status.FAILED,
        message=outcome.message or _import_summary(result),
        rows_new=result.new if result else 0,
        rows_existing=result.existing if result else 0,
    )
    return outcome


class SyncJobBusy(Exception):
    """Another delivery of this job is running under a live lease.

    Raised, not returned: django-q2 acknowledges a task that succeeds, which would delete the
    queue entry both deliveries share; a failed one stays queued and comes back after
    `retry`, to find the job finished or its lease expired (its worker died) and take over.
    """


def _sync_job_not_started(job_id: int) -> SyncOutcome:
    job = SyncJob.objects.filter(pk=job_id).only("status", "next_try_at", "lease_expires_at").first()
    if job is None or not job.in_flight:
        return SyncOutcome("skipped")  # finished, or its connection was disconnected
    if job.status == SyncJob.Status.RUNNING:
        raise SyncJobBusy(f"Sync job {job_id} is running in another worker until {job.lease_expires_at:%H:%M:%S}.")
    if job.next_try_at is not None:
        # Delivered before its retry is due (another host's clock): come back then.
        schedule_once("transactions.tasks.sync_job_run", job_id, at=job.next_try_at)
    return SyncOutcome("not-due")


def _import_summary(result: ImportResult | None) -> str:
    if result is None:
        return ""
    if not result.new:
        return "Up to date: nothing new."
    return f"{result.new:,} new transaction{'s' if result.new != 1 else ''}."


def _connection_sync(connection: Connection) -> SyncOutcome:
    payload = None
    try:
        credentials = account_services.connection_credentials(connection=connection)
        accounts = list(connection.accounts.all())
        today = timezone.localdate()
        if connection.last_synced_at is not None:
            start = timezone.localdate(connection.last_synced_at) - dt.timedelta(days=settings.SYNC_OVERLAP_DAYS)
        else:
            start = connection.history_from
        # Back to the oldest charge still pending (a hotel hold can last weeks), so the fetch
        # shows whether it posted or was dropped.
        oldest_pending = Transaction.objects.filter(account__connection=connection, pending=True).aggregate(
            oldest=Min("posted_on")
        )["oldest"]
        if oldest_pending is not None:
            start = max(min(start, oldest_pending), connection.history_from)
        provider = get_provider(connection.provider)
        raw = provider.fetch(
            account_services.connection_params(connection=connection),
            credentials,
            [account_services.account_ref(account=account) for account in accounts],
            start,
            today,
        )
        payload = raw_payload_store(
            user_id=connection.user_id,
            raw=raw,
            source=RawPayload.Source.DIRECT,
            file_format=PROVIDER_FORMATS[connection.provider],
            connection=connection,
        )
        parsed = provider.parse(raw)
        pairs = [
            (account_services.account_for_statement(connection=connection, statement=statement), statement)
            for statement in parsed.statements
        ]
        result = statements_ingest(
            user_id=connection.user_id, statements=pairs, raw_payload=payload, window=(start, today)
        )
    except ProviderAuthError as exc:
        if payload is not None:
            _payload_failed(payload, str(exc))
        if not Connection.objects.filter(
            pk=connection.pk, encrypted_credentials=connection.encrypted_credentials
        ).exists():
            return SyncOutcome("credentials-changed", message="The login changed during this refresh.")
        account_services.connection_needs_attention(connection=connection, message=str(exc))
        return SyncOutcome("needs-attention", message=str(exc))
    except ProviderUnavailable as exc:
        account_services.connection_sync_failed(connection=connection, message=str(exc))
        return SyncOutcome("retrying", message=str(exc))
    except ProviderError as exc:
        account_services.connection_sync_failed(connection=connection, message=str(exc))
        if payload is not None:
            _payload_failed(payload, str(exc))
        return SyncOutcome("failed", message=str(exc))
    if parsed.problems:
        # What arrived is imported; the sync point stays put so the next sync asks again.
        message = " ".join(parsed.problems)
        account_services.connection_sync_failed(connection=connection, message=message)
        return SyncOutcome("partial", result, message)
    account_services.connection_sync_succeeded(connection=connection)
    if result.new:
        name = connection.display_name
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


def file_upload(*, user: User, raw: bytes, filename: str) -> RawPayload:
    """Keep an uploaded statement file in the object store, after the checks that need no parsing."""
    limit = settings.IMPORT_MAX_BYTES
    if len(raw) > limit:
        raise ValidationError(f"The file is larger than {limit // (1024 * 1024)} MB; split it into smaller periods.")
    if not raw.strip():
        raise ValidationError("The file is empty.")
    try:
        file_format = file_format_detect(filename, raw)
    except ProviderError as exc:
        raise ValidationError(str(exc)) from None
    return raw_payload_store(
        user_id=user.pk, raw=raw, source=RawPayload.Source.FILE, file_format=file_format, filename=filename
    )


def file_import(
    *, user: User, account_name: str, raw: bytes, filename: str, mapping: CsvMapping | None = None
) -> ImportResult:
    """Import a statement file into the user's account of that name (created if needed)."""
    if not account_name.strip():
        raise ValidationError("An account name is required.")
    payload = file_upload(user=user, raw=raw, filename=filename)
    return uploaded_file_import(payload=payload, account_name=account_name, mapping=mapping)


def uploaded_file_import(*, payload: RawPayload, account_name: str, mapping: CsvMapping | None = None) -> ImportResult:
    """Import a stored upload into the user's file account of that name: all of it, or nothing.

    A CSV file is read with the column mapping the user confirmed (the detected one if none);
    the mapping is kept with the payload so a replay reads the file the same way.
    """
    name = account_name.strip()
    if not name:
        raise ValidationError("An account name is required.")
    statement = _uploaded_statement(payload, mapping)
    with transaction.atomic():  # the account only exists if its rows do
        # One file goes into one account: a second confirm elsewhere would count it twice.
        imported_into = (
            RawPayload.objects.select_for_update(of=("self",))
            .filter(pk=payload.pk, status=RawPayload.Status.IMPORTED, account__isnull=False)
            .values_list("account__name", flat=True)
            .first()
        )
        if imported_into is not None and imported_into != name[:120]:
            raise ValidationError(f"This file was already imported into {imported_into}.")
        account = account_services.account_get_or_create_for_file(
            user=payload.user, name=name[:120], kind=statement.account.kind, currency=statement.currency
        )
        payload.account = account
        payload.csv_mapping = mapping.to_dict() if mapping is not None else None
        payload.save(update_fields=["account", "csv_mapping"])
        if len(statement.lines) >= BULK_IMPORT_MIN_LINES:
            # A large file: COPY and set-based SQL on PostgreSQL, the same rows and totals.
            from .bulk import statements_ingest_bulk  # builds on this module

            results = statements_ingest_bulk(batch={payload.user_id: [(account, statement)]}, raw_payload=payload)
            return results[payload.user_id]
        return statements_ingest(user_id=payload.user_id, statements=[(account, statement)], raw_payload=payload)


def _uploaded_statement(payload: RawPayload, mapping: CsvMapping | None) -> Statement:
    try:
        statements = file_parse(filename=payload.filename, raw=_payload_bytes(payload), mapping=mapping).statements
        if len(statements) != 1:
            raise ProviderDataError(
                f"The file holds statements for {len(statements)} accounts; import one account's file at a time."
            )
    except ProviderError as exc:
        _payload_failed(payload, str(exc))
        raise ValidationError(str(exc)) from None
    return statements[0]


def _payload_bytes(payload: RawPayload) -> bytes:
    with payload.file.open("rb") as stored:
        return stored.read()


def uploaded_file_preview(*, payload: RawPayload) -> CsvPreview:
    """What a CSV upload holds and how its columns were read, for the user to confirm."""
    try:
        return csv_preview(_payload_bytes(payload))
    except ProviderError as exc:
        _payload_failed(payload, str(exc))
        raise ValidationError(str(exc)) from None


def uploaded_csv_lines(*, payload: RawPayload, mapping: CsvMapping) -> list[StatementLine]:
    """Every line of a CSV upload read with `mapping`, for the user to check; ProviderDataError names a bad row."""
    return csv_parse(_payload_bytes(payload), mapping)


def raw_payload_replay(*, payload: RawPayload) -> ImportResult:
    """Import a stored payload again: only what is not in the database yet is added.

    The same parse and the same pipeline as the first time, into the same accounts; a
    payload whose connection or account has since been removed cannot be replayed.
    """
    raw = _payload_bytes(payload)
    try:
        if payload.source == RawPayload.Source.DIRECT:
            connection = payload.connection
            if connection is None:
                raise ProviderDataError("Its connection was disconnected; there is no account to replay it into.")
            statements = get_provider(connection.provider).parse(raw).statements
            pairs = [
                (account_services.account_for_statement(connection=connection, statement=statement), statement)
                for statement in statements
            ]
        else:
            if payload.account is None:
                raise ProviderDataError("It was never imported into an account, or that account was deleted.")
            mapping = CsvMapping.from_dict(payload.csv_mapping) if payload.csv_mapping else None
            statements = file_parse(filename=payload.filename, raw=raw, mapping=mapping).statements
            pairs = [(payload.account, statement) for statement in statements]
    except ProviderError as exc:
        raise ValidationError(f"Payload {payload.pk} cannot be replayed: {exc}") from None
    return statements_ingest(user_id=payload.user_id, statements=pairs, raw_payload=payload, replay=True)


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
        TransactionKey.objects.filter(account_id=account.pk).delete()  # so a re-import adds the rows again
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


def user_history_delete(*, user_id: int) -> int:
    """Delete every transaction of the user and their monthly totals together, queueing nothing.

    For deleting the account: removing accounts one by one would recompute totals and queue a
    budget check per account, for a user who is about to be gone. Returns the rows deleted.
    """
    with transaction.atomic():
        deleted, _ = Transaction.objects.filter(user_id=user_id).delete()
        TransactionKey.objects.filter(account__user_id=user_id).delete()
        MonthlySpending.objects.filter(user_id=user_id).delete()
    return deleted
