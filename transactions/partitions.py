"""Monthly partitions of the transactions table (PostgreSQL only; see docs/PERFORMANCE.md).

On PostgreSQL transactions_transaction is `PARTITION BY RANGE (posted_on)`: one partition per
month, transactions_transaction_pYYYY_MM, and transactions_transaction_default for any date
that has none (years-old history from a first sync, a bank's wrong future date), so an
insert never fails for want of a partition. A daily task keeps the next months ready and
moves rows out of the default into their own month's partition. On SQLite the table is plain
and all of this is a no-op.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from mint.db import transaction_lock

from .models import Transaction

logger = logging.getLogger(__name__)

TABLE = Transaction._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_default"
_LOWER_BOUND = re.compile(r"FROM \('(\d{4}-\d{2}-\d{2})'\)")


@dataclass(frozen=True)
class PartitionsReport:
    created: list[str] = field(default_factory=list)  # month partitions added, moved rows or not
    moved: dict[str, int] = field(default_factory=dict)  # partition -> rows it took from the default

    def __str__(self) -> str:
        moved = ", ".join(f"{name}: {rows}" for name, rows in self.moved.items() if rows)
        return f"created {', '.join(self.created) or 'none'}; moved out of the default: {moved or 'none'}"


def partition_name(month: dt.date) -> str:
    return f"{TABLE}_p{month:%Y_%m}"


def month_add(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def table_is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass)", [TABLE])
        return bool(cursor.fetchone()[0])


def partition_months() -> dict[dt.date, str]:
    """The month partitions that exist (the default excluded), by first day of the month."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        found = {}
        for name, bound in cursor.fetchall():
            lower = _LOWER_BOUND.search(bound)
            if lower:
                found[dt.date.fromisoformat(lower.group(1))] = name
        return found


def transaction_partitions_ensure(*, months_ahead: int = 3, today: dt.date | None = None) -> PartitionsReport:
    """Create the month partitions up to `months_ahead`, and one for every month held in the default.

    Idempotent. Each month is its own transaction: the default partition is locked (inserts
    routed to it wait; the move is rare and small), the month's table is created standalone,
    the month's rows are moved into it from the default, and it is attached. Creating it
    directly as a partition would fail while the default holds rows of its range.
    """
    report = PartitionsReport()
    if not table_is_partitioned():
        return report
    first = (today or timezone.localdate()).replace(day=1)
    wanted = {month_add(first, ahead) for ahead in range(months_ahead + 1)}
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [DEFAULT_PARTITION])
        has_default = bool(cursor.fetchone()[0])
        if has_default:
            cursor.execute(f"SELECT DISTINCT date_trunc('month', posted_on)::date FROM {DEFAULT_PARTITION}")  # noqa: S608
            wanted.update(month for (month,) in cursor.fetchall())
    for month in sorted(wanted - set(partition_months())):
        moved = _month_partition_add(month, has_default=has_default)
        if moved is not None:
            report.created.append(partition_name(month))
            report.moved[partition_name(month)] = moved
    if report.created:
        logger.info("transaction partitions: %s", report)
    return report


def _month_partition_add(month: dt.date, *, has_default: bool) -> int | None:
    """Add `month`'s partition with its rows from the default; None if it already exists."""
    name = partition_name(month)
    lower, upper = month.isoformat(), month_add(month, 1).isoformat()
    columns = ", ".join(str(f.column) for f in Transaction._meta.concrete_fields)
    moved = 0
    with transaction.atomic(), connection.cursor() as cursor:
        transaction_lock(f"partitions:{TABLE}")  # two deliveries of the task: one at a time
        if month in partition_months():
            return None
        # Reads of the whole table queue behind a waiting ACCESS EXCLUSIVE: give up instead (an
        # import holding the default for long), and let the next run try again.
        cursor.execute("SET LOCAL lock_timeout = '10s'")
        # LIKE copies columns and NOT NULL; ATTACH adds the parent's keys, indexes and foreign keys.
        cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE})")
        if has_default:
            cursor.execute(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE")
            cursor.execute(
                f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE posted_on >= %s AND posted_on < %s "  # noqa: S608
                f"RETURNING {columns}) INSERT INTO {name} ({columns}) SELECT {columns} FROM moved",
                [lower, upper],
            )
            moved = cursor.rowcount
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ('{lower}') TO ('{upper}')")
    return moved
