"""monthly_spending: the deltas that keep it in step with the rows, its cached months, and the
operator's tools to rebuild it from the transactions and to prove it matches them.

Every writer of a user's aggregates holds the user's spending lock until it commits, and the
cache refresh after each commit reads the database under the same lock. So refreshes happen
in commit order, and the cached month is always the last committed one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from mint.converters import next_month
from mint.db import increment_upsert, transaction_lock, transaction_locks
from mint.db_router import replica_mark_written
from mint.models import User
from mint.tasks import enqueue_on_commit

from .models import MonthlySpending, Transaction
from .selectors import (
    months_spending_from_db,
    spending_cache_key,
    spending_last_known_key,
    users_months_spending_from_db,
)

MonthCategory = tuple[dt.date, int]
CENT = Decimal("0.01")


@dataclass
class Delta:
    amount: Decimal = Decimal("0")
    count: int = 0


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def spending_lock_name(user_id: int) -> str:
    return f"spending:{user_id}"


def monthly_spending_apply(*, user_id: int, deltas: dict[MonthCategory, Delta]) -> None:
    """Add deltas to monthly_spending; call inside the transaction that writes the rows."""
    rows = [
        {"user": user_id, "month": month, "category": category_id, "amount": delta.amount, "txn_count": delta.count}
        for (month, category_id), delta in deltas.items()
        if delta.count or delta.amount
    ]
    if not rows:
        return
    transaction_lock(spending_lock_name(user_id))
    now = timezone.now()
    increment_upsert(
        MonthlySpending,
        keys=["user", "month", "category"],
        increments=["amount", "txn_count"],
        replaces=["updated_at"],
        rows=[{**row, "updated_at": now} for row in rows],
    )


def after_spending_change(user_id: int, months: Iterable[dt.date]) -> None:
    """Once committed: refresh the cached months and let budgets check the new totals."""
    month_list = sorted(set(months))
    if not month_list:
        return
    transaction.on_commit(lambda: spending_cache_refresh(user_id=user_id, months=month_list))
    if settings.DATABASE_REPLICAS:  # the user's next reads wait for a read replica to have this change
        transaction.on_commit(lambda: replica_mark_written(user_id=user_id))
    enqueue_on_commit("budgets.tasks.spending_changed", user_id, [month.isoformat() for month in month_list])


def after_spending_change_many(user_months: Mapping[int, Iterable[dt.date]], *, refresh_cache: bool = True) -> None:
    """`after_spending_change` for many users at once (a bulk import): the same work after commit,
    with one cache refresh and one budget task for all of them instead of one of each per user.

    Without `refresh_cache` (a backfill of many users) the cached months are dropped instead, as
    `spending_rebuild` does: refilling them would fill the cache with months nobody is reading.
    Keep it in step with after_spending_change: whatever that does per user, this does too.
    """
    changed = {user_id: sorted(set(months)) for user_id, months in sorted(user_months.items())}
    changed = {user_id: months for user_id, months in changed.items() if months}
    if not changed:
        return
    if refresh_cache:
        transaction.on_commit(lambda: spending_cache_refresh_many(user_months=changed))
    else:
        keys = [spending_cache_key(user_id, month) for user_id, months in changed.items() for month in months]
        transaction.on_commit(lambda: cache.delete_many(keys))
    for user_id in changed:
        transaction.on_commit(partial(replica_mark_written, user_id=user_id))
    enqueue_on_commit(
        "budgets.tasks.spending_changed_many",
        [(user_id, [month.isoformat() for month in months]) for user_id, months in changed.items()],
    )


def spending_cache_refresh_many(*, user_months: dict[int, list[dt.date]]) -> None:
    """`spending_cache_refresh` for many users: one read under all their spending locks, one write."""
    with transaction.atomic():
        transaction_locks([spending_lock_name(user_id) for user_id in user_months])
        fresh = users_months_spending_from_db(user_months=user_months)
        current = {
            spending_cache_key(user_id, month): summary
            for user_id, months in fresh.items()
            for month, summary in months.items()
        }
        last_known = {
            spending_last_known_key(user_id, month): summary
            for user_id, months in fresh.items()
            for month, summary in months.items()
        }
        cache.set_many(current, timeout=settings.SPENDING_CACHE_TIMEOUT)
        cache.set_many(last_known, timeout=settings.SPENDING_LAST_KNOWN_TIMEOUT)


def spending_cache_refresh(*, user_id: int, months: Sequence[dt.date]) -> None:
    """Put the committed months in the cache, read under the user's spending lock.

    A refresh that set the cache from an older read after a newer one would leave a wrong
    total until the entry expires; holding the lock that writers commit under orders them.
    """
    with transaction.atomic():
        transaction_lock(spending_lock_name(user_id))
        fresh = months_spending_from_db(user_id=user_id, months=months)
        cache.set_many(
            {spending_cache_key(user_id, month): summary for month, summary in fresh.items()},
            timeout=settings.SPENDING_CACHE_TIMEOUT,
        )
        cache.set_many(
            {spending_last_known_key(user_id, month): summary for month, summary in fresh.items()},
            timeout=settings.SPENDING_LAST_KNOWN_TIMEOUT,
        )


def _totals_by_month(rows: QuerySet[Transaction], *group: str) -> QuerySet:
    """(*group, month, category, amount, count) summed over `rows` by posted month and category."""
    return (
        rows.annotate(period=TruncMonth("posted_on"))
        .values_list(*group, "period", "category_id")
        .annotate(total=Sum("amount"), count=Count("pk"))
        .order_by()
    )


def account_history_deltas(account_id: int) -> dict[MonthCategory, Delta]:
    """What removing an account's transactions takes off monthly_spending (one grouped query)."""
    rows = _totals_by_month(Transaction.objects.filter(account_id=account_id))
    return {(month, category_id): Delta(amount=-total, count=-count) for month, category_id, total, count in rows}


def _recomputed(user_ids: Sequence[int], month: dt.date | None) -> QuerySet:
    """(user, month, category, amount, count) grouped from the transactions, as SQL to reuse."""
    rows = Transaction.objects.filter(user_id__in=user_ids)
    if month is not None:
        rows = rows.filter(posted_on__gte=month, posted_on__lt=next_month(month))
    return _totals_by_month(rows, "user_id")


def user_id_batches(*, user_id: int | None = None, batch_size: int = 2000) -> Iterator[list[int]]:
    """The users with transactions or aggregates, in ascending id batches (one user if asked)."""
    if user_id is not None:
        yield [user_id]
        return
    ids = User.objects.order_by("pk").values_list("pk", flat=True)
    batch: list[int] = []
    for pk in ids.iterator(chunk_size=batch_size):
        batch.append(pk)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def spending_rebuild(*, user_ids: Sequence[int], month: dt.date | None = None) -> int:
    """Replace the users' aggregates (of one month, or all) with a recompute from the rows.

    Under the users' spending locks, so a concurrent import either commits before (and is
    counted) or waits and adds its deltas after. Returns the number of aggregate rows the
    recompute gives, whether or not they had to change.

    On PostgreSQL one statement per batch: the `INSERT ... SELECT ... GROUP BY`, joined with
    the stored rows, upserts only the rows that differ and deletes those the recompute no
    longer has; a row that agrees is left as it is, its updated_at too. A rebuild of agreeing
    aggregates (the usual repair: most rows are right) then writes nothing and costs about the
    grouped read alone; deleting and reinserting every row took 4.5 times a bare INSERT ...
    SELECT of all of them, most of it index entries and the deferred foreign-key checks at
    commit (bench/recompute.py). A batch whose rows all differ (an emptied table) still writes
    every row.
    Elsewhere: one DELETE and one INSERT ... SELECT for the batch.
    """
    with transaction.atomic():
        transaction_locks([spending_lock_name(user_id) for user_id in user_ids])
        if connection.vendor == "postgresql":
            written, touched = _rebuild_in_place(user_ids, month)
        else:
            written, touched = _rebuild_by_replacing(user_ids, month)
        keys = [spending_cache_key(user_id, row_month) for user_id, row_month in sorted(touched)]
        # Dropped, not refreshed: a repair of many users would otherwise fill the cache with
        # months nobody is reading. The next read loads the rebuilt month.
        transaction.on_commit(lambda: cache.delete_many(keys))
    return written


def _rebuild_in_place(user_ids: Sequence[int], month: dt.date | None) -> tuple[int, set[tuple[int, dt.date]]]:
    """(recomputed rows, every (user, month) recomputed or deleted): write only the rows that differ.

    The recompute and the stored rows are joined once (FULL JOIN on the key), so only a
    missing, different or stale row costs a write.
    """
    select_sql, params = _recomputed(user_ids, month).query.sql_with_params()
    table = MonthlySpending._meta.db_table
    in_month = "AND month = %s" if month is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH recomputed AS MATERIALIZED (
                -- TruncMonth gives a timestamp here: a date, the stored type, lets the join hash on it.
                SELECT user_id, month::date AS month, category_id, amount, txn_count
                FROM ({select_sql}) AS grouped (user_id, month, category_id, amount, txn_count)
            ),
            stored AS (
                SELECT id, user_id, month, category_id, amount, txn_count FROM {table}
                WHERE user_id = ANY(%s) {in_month}
            ),
            differing AS MATERIALIZED (
                SELECT recomputed.*, stored.id AS stored_id, stored.user_id AS stored_user_id,
                    stored.month AS stored_month
                FROM recomputed FULL JOIN stored ON stored.user_id = recomputed.user_id
                    AND stored.month = recomputed.month AND stored.category_id = recomputed.category_id
                WHERE stored.id IS NULL OR recomputed.user_id IS NULL
                    OR stored.amount <> recomputed.amount OR stored.txn_count <> recomputed.txn_count
            ),
            upserted AS (
                INSERT INTO {table} (user_id, month, category_id, amount, txn_count, updated_at)
                SELECT user_id, month, category_id, amount, txn_count, %s FROM differing
                WHERE user_id IS NOT NULL
                ON CONFLICT (user_id, month, category_id) DO UPDATE
                SET amount = excluded.amount, txn_count = excluded.txn_count, updated_at = excluded.updated_at
            ),
            deleted AS (
                DELETE FROM {table} WHERE id IN (SELECT stored_id FROM differing WHERE user_id IS NULL)
            )
            SELECT user_id, month, count(*) FROM recomputed GROUP BY 1, 2
            UNION ALL
            SELECT DISTINCT stored_user_id, stored_month, 0 FROM differing WHERE user_id IS NULL
            """,  # noqa: S608  (identifiers from model meta)
            [*params, list(user_ids), *([month] if month is not None else []), timezone.now()],
        )
        found = cursor.fetchall()
    return sum(count for _, _, count in found), {(user_id, row_month) for user_id, row_month, _ in found}


def _rebuild_by_replacing(user_ids: Sequence[int], month: dt.date | None) -> tuple[int, set[tuple[int, dt.date]]]:
    """(recomputed rows, every (user, month) recomputed or deleted): delete the rows, insert the recompute."""
    stale = MonthlySpending.objects.filter(user_id__in=user_ids)
    if month is not None:
        stale = stale.filter(month=month)
    touched = set(stale.values_list("user_id", "month").distinct())
    stale.delete()
    select_sql, params = _recomputed(user_ids, month).query.sql_with_params()
    table = MonthlySpending._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, month, category_id, amount, txn_count, updated_at) "  # noqa: S608
            f"SELECT recomputed.*, %s FROM ({select_sql}) AS recomputed",
            [timezone.now(), *params],
        )
        written = cursor.rowcount
    rebuilt = MonthlySpending.objects.filter(user_id__in=user_ids)
    if month is not None:
        rebuilt = rebuilt.filter(month=month)
    touched |= set(rebuilt.values_list("user_id", "month").distinct())
    return written, touched


@dataclass(frozen=True)
class Drift:
    user_id: int
    month: dt.date
    category_id: int
    stored: tuple[Decimal, int]  # (amount, count) in monthly_spending
    actual: tuple[Decimal, int]  # (amount, count) summed from the transactions


def spending_drift(*, user_ids: Sequence[int], month: dt.date | None = None) -> list[Drift]:
    """Where the users' monthly_spending differs from a recompute from their transactions.

    A row of zeros (everything moved out of a category) is the same as no row.
    """
    stored_rows = MonthlySpending.objects.filter(user_id__in=user_ids)
    if month is not None:
        stored_rows = stored_rows.filter(month=month)
    stored = {
        (user_id, row_month, category_id): (amount, count)
        for user_id, row_month, category_id, amount, count in stored_rows.values_list(
            "user_id", "month", "category_id", "amount", "txn_count"
        )
        if amount or count
    }
    actual = {
        # SQLite sums decimals as floats; the column has two places, and so does the sum.
        (user_id, row_month, category_id): (total.quantize(CENT), count)
        for user_id, row_month, category_id, total, count in _recomputed(user_ids, month)
    }
    nothing = (Decimal("0.00"), 0)
    return [
        Drift(user_id, row_month, category_id, stored=stored.get(key, nothing), actual=actual.get(key, nothing))
        for key in sorted(stored.keys() | actual.keys())
        for user_id, row_month, category_id in [key]
        if stored.get(key, nothing) != actual.get(key, nothing)
    ]
