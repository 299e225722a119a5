"""PostgreSQL only: rebuild transactions_transaction as PARTITION BY RANGE (posted_on).

The model state does not change (Django still sees `id` as the primary key; the table's is
(id, posted_on), as a partitioned table requires). The new table gets the same columns,
defaults and identity (LIKE), one partition per month from the earliest row's month to three
months ahead plus a DEFAULT partition, the old rows (ids kept, the identity moved past them),
and then the old table's indexes and constraints, read from the catalog, under the same names.
The daily task transactions.tasks.transaction_partitions_ensure keeps months ahead from here.
Safe to run twice; on SQLite nothing happens. Helpers are copied here, not imported (app code changes).
"""

import datetime as dt
import re

from django.db import migrations
from django.utils import timezone

TABLE = "transactions_transaction"
OLD = "transactions_transaction_old"
MONTHS_AHEAD = 3


def _month_add(month, months):
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _is_partitioned(cursor):
    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass)", [TABLE])
    return cursor.fetchone()[0]


def _definitions(cursor, table):
    """The primary key's name, the other constraints and the indexes, as SQL for `table`."""
    cursor.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "ORDER BY conname",
        [table],
    )
    constraints = cursor.fetchall()
    (pkey,) = [name for name, kind, _ in constraints if kind == "p"]
    others = [(name, definition) for name, kind, definition in constraints if kind != "p"]
    if any(kind == "u" for _, kind, _ in constraints):
        raise RuntimeError(f"{table} has a unique constraint; it cannot be partitioned as is.")
    cursor.execute(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE indrelid = %s::regclass AND NOT indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint WHERE conindid = i.indexrelid) ORDER BY c.relname",
        [table],
    )
    indexes = [row[0] for row in cursor.fetchall()]
    return pkey, others, indexes


def _rebuild(cursor, *, partitioned):
    """Rename the table away, create its replacement, copy the rows, then the keys and indexes."""
    pkey, constraints, indexes = _definitions(cursor, TABLE)
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    like = f"LIKE {OLD} INCLUDING DEFAULTS INCLUDING IDENTITY"
    if partitioned:
        cursor.execute(f"CREATE TABLE {TABLE} ({like}) PARTITION BY RANGE (posted_on)")
        today = timezone.localdate().replace(day=1)
        cursor.execute(f"SELECT min(posted_on) FROM {OLD}")
        earliest = cursor.fetchone()[0]
        month = min(earliest.replace(day=1), today) if earliest else today
        while month <= _month_add(today, MONTHS_AHEAD):
            following = _month_add(month, 1)
            cursor.execute(
                f"CREATE TABLE {TABLE}_p{month:%Y_%m} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{month.isoformat()}') TO ('{following.isoformat()}')"
            )
            month = following
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
    else:
        cursor.execute(f"CREATE TABLE {TABLE} ({like})")
    # LIKE keeps the column order, so SELECT * lines up.
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")
    cursor.execute(f"DROP TABLE {OLD}")  # its partitions, indexes, constraints and identity sequence with it
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    sequence = cursor.fetchone()[0]
    cursor.execute(f"SELECT setval(%s, coalesce(max(id), 0) + 1, false) FROM {TABLE}", [sequence])
    if sequence.split(".")[-1] != f"{TABLE}_id_seq":
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {TABLE}_id_seq")
    key = "id, posted_on" if partitioned else "id"
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {pkey} PRIMARY KEY ({key})")
    for name, definition in constraints:
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")
    for definition in indexes:
        # Read before the rename, so they name TABLE; ONLY (a partitioned parent's) is dropped.
        cursor.execute(re.sub(rf" ON (ONLY )?(\w+\.)?{TABLE} ", f" ON {TABLE} ", definition))


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if not _is_partitioned(cursor):
            _rebuild(cursor, partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if _is_partitioned(cursor):
            _rebuild(cursor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0003_transaction_keys"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
