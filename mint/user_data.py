"""A user's data as a whole: export it all as a zip of CSV files, or delete it all.

This module sits above every app (like `mint/urls.py` and `mint/api.py`): it reads through
each app's selectors, and no app imports it. The HTML pages and the API call the same two
functions, `user_data_export` and `user_delete`.
"""

from __future__ import annotations

import ast
import datetime as dt
import io
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.signing import SignedPackage

from accounts.models import SyncJob
from accounts.selectors import account_list_for_user, connection_list_for_user
from budgets.selectors import budget_list_for_user, budgets_cache_key, budgets_last_known_key
from categories.selectors import user_rule_list_for_user
from notifications.models import Notification
from notifications.selectors import notification_list_for_user
from security.models import AuditEvent
from security.services import SignInBlocked, audit_record, identity_confirm, sign_in_failures_clear
from transactions.exports import TRANSACTION_CSV_HEADER, transaction_csv_rows
from transactions.models import MonthlySpending, RawPayload, Transaction, raw_payload_storage
from transactions.selectors import (
    monthly_spending_list_for_user,
    spending_cache_key,
    spending_last_known_key,
    transaction_list_for_user,
    upload_list_for_user,
)
from transactions.services import user_history_delete

from .downloads import Cell, csv_write
from .models import User

logger = logging.getLogger(__name__)


# Export ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportTable:
    filename: str
    header: Sequence[str]
    rows: Callable[[User], Iterable[Sequence[Cell]]]


def _server_without_login(url: str) -> str:
    """The connection's server address with any user:password@ removed: credentials never leave."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _accounts(user: User) -> Iterator[Sequence[Cell]]:
    for account in account_list_for_user(user=user).iterator(chunk_size=500):
        yield (
            account.pk,
            account.name,
            account.kind,
            account.connection.display_name if account.connection else "file uploads",
            account.external_id[-4:],
            account.currency,
            account.balance,
            account.balance_as_of,
            account.created_at,
        )


def _connections(user: User) -> Iterator[Sequence[Cell]]:
    # Named columns only: `encrypted_credentials` is never read here.
    for connection in connection_list_for_user(user=user).prefetch_related(None):
        yield (
            connection.pk,
            connection.display_name,
            connection.get_provider_display(),
            _server_without_login(connection.url),
            connection.status,
            connection.history_from,
            connection.last_synced_at,
            connection.last_error,
            connection.created_at,
        )


def _transactions(user: User) -> Iterator[Sequence[Cell]]:
    return transaction_csv_rows(transaction_list_for_user(user=user))


def _budgets(user: User) -> Iterator[Sequence[Cell]]:
    for budget in budget_list_for_user(user=user):
        yield budget.category.path, budget.amount, budget.approaching_percent, budget.created_at


def _rules(user: User) -> Iterator[Sequence[Cell]]:
    for rule in user_rule_list_for_user(user=user):
        yield rule.merchant_name, rule.category.path, rule.created_at


def _notifications(user: User) -> Iterator[Sequence[Cell]]:
    for notice in notification_list_for_user(user=user).iterator(chunk_size=500):
        yield notice.created_at, notice.kind, notice.subject, notice.body, notice.read_at, notice.emailed_at


def _monthly_spending(user: User) -> Iterator[Sequence[Cell]]:
    for row in monthly_spending_list_for_user(user=user).iterator(chunk_size=500):
        yield row.month.strftime("%Y-%m"), row.category.path, row.amount, row.txn_count


def _uploads(user: User) -> Iterator[Sequence[Cell]]:
    for upload in upload_list_for_user(user=user).iterator(chunk_size=500):
        yield (
            upload.received_at,
            upload.filename,
            upload.file_format,
            upload.status,
            upload.rows_new,
            upload.rows_existing,
            upload.error,
        )


EXPORT_TABLES = [
    ExportTable(
        "accounts.csv",
        ["id", "name", "kind", "institution", "number_ending", "currency", "balance", "balance_as_of", "created_at"],
        _accounts,
    ),
    ExportTable(
        "connections.csv",
        [
            "id",
            "institution",
            "provider",
            "server",
            "status",
            "history_from",
            "last_synced_at",
            "last_error",
            "created_at",
        ],
        _connections,
    ),
    ExportTable("transactions.csv", TRANSACTION_CSV_HEADER, _transactions),
    ExportTable("budgets.csv", ["category", "amount", "approaching_percent", "created_at"], _budgets),
    ExportTable("rules.csv", ["merchant", "category", "created_at"], _rules),
    ExportTable(
        "notifications.csv", ["created_at", "kind", "subject", "body", "read_at", "emailed_at"], _notifications
    ),
    ExportTable("monthly_spending.csv", ["month", "category", "amount", "transactions"], _monthly_spending),
    ExportTable(
        "statement_uploads.csv",
        ["received_at", "filename", "format", "status", "rows_new", "rows_existing", "error"],
        _uploads,
    ),
]

EXPORT_README = """Your data from Mint, exported {exported_at}.

One CSV file (UTF-8, comma-separated, first row the column names) per kind of data:
{files}
Amounts are plain numbers with a dot (negative = money out). Text that starts with
= + - @ or a tab or line break has a ' in front of it, so a spreadsheet shows it as text
instead of running it as a formula. Bank logins and passwords are never exported.
"""


def user_data_export(*, user: User, request: HttpRequest | None = None) -> tuple[IO[bytes], dict[str, int]]:
    """Every table of the user's data, as CSV files in a zip written to a temporary file.

    Rows are read in chunks and written straight into the compressed entry, so memory stays
    flat however many transactions there are; the caller streams the file (rewound) and
    closing it deletes it. Returns the file and the row count per CSV file; the export is
    audited with those counts, never the content.
    """
    archive = tempfile.TemporaryFile(prefix="mint-export-")  # noqa: SIM115  (the response closes it)
    counts: dict[str, int] = {}
    try:
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for table in EXPORT_TABLES:
                with (
                    bundle.open(table.filename, "w", force_zip64=True) as entry,
                    io.TextIOWrapper(entry, encoding="utf-8", newline="") as text,
                ):
                    counts[table.filename] = csv_write(text, table.header, table.rows(user))
            files = "".join(f"  {name}: {count:,} row{'' if count == 1 else 's'}\n" for name, count in counts.items())
            exported_at = f"{timezone.localtime():%Y-%m-%d %H:%M %Z}"
            bundle.writestr("README.txt", EXPORT_README.format(exported_at=exported_at, files=files))
    except BaseException:
        archive.close()
        raise
    archive.seek(0)
    audit_record(
        action=AuditEvent.Action.EXPORT, user=user, request=request, what="all data", format="zip", rows=counts
    )
    return archive, counts


def user_data_export_filename() -> str:
    return f"mint-data-{timezone.localdate():%Y-%m-%d}.zip"


# Delete ---------------------------------------------------------------------------------------

# django-q2 keeps task arguments (queued, scheduled, and in saved results): these tasks take an
# id of the user or of one of their rows, so their rows are the user's data too.
USER_TASKS = {
    "budgets.tasks.spending_changed": "user",
    "notifications.tasks.notification_email_send": "notification",
    "transactions.tasks.sync_job_run": "sync_job",
}
CACHE_YEARS_BACK = 10  # without a pattern delete (not Redis): the years of cached months cleared by key
FAR_PAST = dt.date(2000, 1, 1)


@dataclass(frozen=True)
class _UserFootprint:
    """What the user's rows point to outside their own rows: files, cache keys, task arguments."""

    ids: dict[str, set[int]]  # "user", "notification", "sync_job" -> ids that tasks may carry
    payload_files: list[str]
    first_month: dt.date | None


def _footprint(user: User) -> _UserFootprint:
    months = MonthlySpending.objects.filter(user=user).order_by("month").values_list("month", flat=True)
    return _UserFootprint(
        ids={
            "user": {user.pk},
            "notification": set(Notification.objects.filter(user=user).values_list("pk", flat=True)),
            "sync_job": set(SyncJob.objects.filter(user=user).values_list("pk", flat=True)),
        },
        payload_files=[name for name in RawPayload.objects.filter(user=user).values_list("file", flat=True) if name],
        first_month=months.first(),
    )


def user_delete(*, user: User, password: str, request: HttpRequest) -> dict[str, int]:
    """Delete the user and everything of theirs, after checking their password again.

    The password is checked within the sign-in limits (security.services.identity_confirm):
    a stolen session must not become a way to guess it. Then, in one database transaction:
    the user row and every row that cascades from it (accounts, connections with their
    encrypted credentials, transactions, aggregates, budgets, rules, notifications, API
    tokens, two-factor devices), their sessions, their sign-in failure counts, and the
    django-q2 rows whose arguments name them or their rows. Once that commits: the raw
    statement files in the object store and the cached values keyed by their id.

    The audit log keeps one ACCOUNT_DELETED event holding the username (its user link is
    emptied with the others'), so support can answer "was this account deleted, and when".
    Returns the rows deleted per model.
    """
    try:
        confirmed = identity_confirm(request=request, user=user, secret=password, allow_code=False)
    except SignInBlocked as blocked:
        raise ValidationError({"password": [blocked.message]}) from None
    if not confirmed:
        raise ValidationError({"password": ["That is not your password."]})
    user_id, username = user.pk, user.username
    footprint = _footprint(user)
    with transaction.atomic():
        event = audit_record(action=AuditEvent.Action.ACCOUNT_DELETED, user=user, request=request, username=username)
        # Transactions first: then deleting the accounts has no totals left to recompute or check.
        transactions = user_history_delete(user_id=user_id)
        _, deleted = user.delete()  # the audit events' user link becomes NULL (SET_NULL)
        deleted = {label: count for label, count in deleted.items() if count}
        deleted[Transaction._meta.label] = transactions
        deleted[Session._meta.label] = _sessions_delete(user_id)
        deleted["django_q.Task"] = _task_rows_delete(footprint.ids)
        sign_in_failures_clear(user=user)
        AuditEvent.objects.filter(pk=event.pk).update(detail={"username": username, "rows": sum(deleted.values())})
        transaction.on_commit(lambda: _stored_files_delete(user_id, footprint.payload_files))
        transaction.on_commit(lambda: _cache_forget(user_id, footprint.first_month))
    logger.info("user %s deleted their account (%d rows)", user_id, sum(deleted.values()))
    return deleted


def _sessions_delete(user_id: int) -> int:
    """The user's sessions on every device. Session rows keep the user id inside their encoded
    data, so each is decoded: a full scan, acceptable for a rare action (a user -> sessions
    index is the fix if the table grows past that)."""
    if settings.SESSION_ENGINE not in (
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    ):
        return 0
    theirs = [
        session.session_key
        for session in Session.objects.iterator(chunk_size=2000)
        if session.get_decoded().get(SESSION_KEY) == str(user_id)
    ]
    for start in range(0, len(theirs), 500):
        Session.objects.filter(session_key__in=theirs[start : start + 500]).delete()
    if settings.SESSION_ENGINE.endswith("cached_db"):
        cache.delete_many([f"django.contrib.sessions.cached_db{key}" for key in theirs])
    return len(theirs)


def _task_rows_delete(ids: dict[str, set[int]]) -> int:
    """Queued, scheduled and finished django-q2 tasks whose first argument is one of the ids."""

    def theirs(func: str, args: object) -> bool:
        kind = USER_TASKS.get(func)
        return kind is not None and isinstance(args, tuple) and bool(args) and args[0] in ids[kind]

    removed = 0
    finished = [
        task.pk
        for task in Task.objects.filter(func__in=USER_TASKS).only("id", "func", "args")
        if theirs(task.func, task.args)
    ]
    removed += Task.objects.filter(pk__in=finished).delete()[0]
    scheduled = []
    for entry in Schedule.objects.filter(func__in=USER_TASKS).only("id", "func", "args"):
        try:
            args = ast.literal_eval(entry.args or "()")
        except (ValueError, SyntaxError):
            continue
        if theirs(entry.func, args if isinstance(args, tuple) else (args,)):
            scheduled.append(entry.pk)
    removed += Schedule.objects.filter(pk__in=scheduled).delete()[0]
    queued = []
    for item in OrmQ.objects.all():
        try:
            task = SignedPackage.loads(item.payload)
        except signing.BadSignature:  # signed with another key, or damaged: not a task of ours
            continue
        if theirs(task.get("func", ""), tuple(task.get("args") or ())):
            queued.append(item.pk)
    removed += OrmQ.objects.filter(pk__in=queued).delete()[0]
    return removed


def _stored_files_delete(user_id: int, names: list[str]) -> None:
    """The user's raw statements in the object store: every file their rows named, then anything
    left under their folder (`<user id>/`, as `raw_payload_store` names files), such as the file of
    an import whose row never committed."""
    storage = raw_payload_storage()
    for name in names:
        storage.delete(name)
    pending = [f"{user_id}"]
    while pending:
        folder = pending.pop()
        try:
            folders, files = storage.listdir(folder)
        except FileNotFoundError:
            continue
        for name in files:
            storage.delete(f"{folder}/{name}")
        pending.extend(f"{folder}/{name}" for name in folders)
    _empty_folders_remove(storage, str(user_id))


def _empty_folders_remove(storage, folder: str) -> None:
    """A local folder store keeps empty folders named after the user id: remove them too."""
    try:
        root = storage.path(folder)
    except NotImplementedError:
        return  # an object store (S3) has no folders once the files are gone
    shutil.rmtree(root, ignore_errors=True)


def _cache_forget(user_id: int, first_month: dt.date | None) -> None:
    """Cached spending and budgets keyed by the user id. Redis deletes them by pattern; another
    cache by key, for every month from the user's first data (or ten years back) to next month."""
    if hasattr(cache, "delete_pattern"):  # django-redis
        for key in (spending_cache_key(user_id, FAR_PAST), spending_last_known_key(user_id, FAR_PAST)):
            cache.delete_pattern(key.rsplit(":", 1)[0] + ":*")
    today = timezone.localdate().replace(day=1)
    month = today.replace(year=today.year - CACHE_YEARS_BACK)
    if first_month is not None:
        month = min(month, first_month)
    keys = [budgets_cache_key(user_id), budgets_last_known_key(user_id)]
    while month <= today.replace(year=today.year + 1):
        keys += [spending_cache_key(user_id, month), spending_last_known_key(user_id, month)]
        month = (month + dt.timedelta(days=32)).replace(day=1)
    cache.delete_many(keys)
