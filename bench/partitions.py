"""Partitioning benchmark: transactions partitioned by posted month beside the plain table, in one run.

    .venv/bin/python bench/partitions.py [--runs 3] [--query-runs 7] [--quick]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth for `postgres`). The product's schema is not
changed: in the data generator's database (`mint_bench_data`; `--quick`:
`mint_bench_recompute_quick`, filled by bench/recompute.py's rules when empty) it builds two
copies of transactions_transaction, dropped at the end:
  - `bench_txn_plain`: the table as it was before it was partitioned: the same columns, primary
    key (id), (account_id, external_id) unique key, the five foreign-key indexes and
    (user_id, posted_on DESC, id DESC), plus the same foreign keys;
  - `bench_txn_part`: the same columns, `PARTITION BY RANGE (posted_on)`, one partition per
    month from the first month to two months ahead (what a scheduled task would keep
    created), no default partition. Every index as above, but a unique one must contain the
    partition key: the primary key is (id, posted_on) and the dedupe key (account_id,
    external_id, posted_on).
1. Ingestion: every row of transactions_transaction (dumped once with COPY TO, in id order, as
   ingestion wrote them), loaded with `COPY ... FROM STDIN` in `--batch-rows` batches, one
   committed transaction each, into each empty table; `--runs` times, alternating; median rows/s.
2. Replay dedupe: one batch staged again and inserted with `ON CONFLICT (the table's unique
   key) DO NOTHING`: must insert 0 into both (timed). Then 100 stored lines sent again with the
   same account and FITID but posted a month later (a pending line that posts on another
   date): the plain table's key stops them, the partitioned table's (with posted_on) does not
   (counted, rolled back).
3. A month's queries on each, after VACUUM ANALYZE, medians over `--query-runs`:
   - one user's month list as the transactions page runs it (selectors.transaction_list_for_user
     with `month`: the SQL Django generates, on the copy's name, first page of 50), for
     `--sample-users` users;
   - one month over every user: the `spending_rebuild(month=...)` grouping, without the user filter.
   EXPLAIN (ANALYZE, BUFFERS) of each is printed and saved: the partitioned plans must scan
   one partition (asserted).

Prints a table and writes var/bench/partitions.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common, datagen, recompute  # noqa: E402  (after the path is set)
from bench.common import log_stderr as log  # noqa: E402

VAR = common.VAR
PLAIN, PART = "bench_txn_plain", "bench_txn_part"
COLUMNS = (
    "id, external_id, posted_on, amount, currency, description, memo, mcc, merchant_key, category_source, "
    "created_at, updated_at, account_id, category_id, merchant_id, raw_payload_id, user_id, pending"
)
FOREIGN_KEYS = {
    "account_id": "accounts_account",
    "category_id": "categories_category",
    "merchant_id": "categories_merchant",
    "raw_payload_id": "transactions_rawpayload",
    "user_id": "mint_user",
}
Row = dict[str, Any]
sql = recompute.sql


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def create_tables() -> int:
    """Both copies, empty; returns the number of partitions."""
    sql(f"DROP TABLE IF EXISTS {PLAIN}, {PART}")
    # Spelled out, not LIKE ... INCLUDING ALL: the product table is itself partitioned now (its
    # dedupe key is in transactions_transactionkey), and this compares the two designs of issue 9.
    like = "LIKE transactions_transaction INCLUDING DEFAULTS INCLUDING IDENTITY"
    sql(f"CREATE TABLE {PLAIN} ({like})")
    sql(f"ALTER TABLE {PLAIN} ADD PRIMARY KEY (id)")
    sql(f"ALTER TABLE {PLAIN} ADD UNIQUE (account_id, external_id)")
    sql(f"CREATE TABLE {PART} ({like}) PARTITION BY RANGE (posted_on)")
    sql(f"ALTER TABLE {PART} ADD PRIMARY KEY (id, posted_on)")
    sql(f"ALTER TABLE {PART} ADD UNIQUE (account_id, external_id, posted_on)")
    for table in (PLAIN, PART):
        for column in FOREIGN_KEYS:
            sql(f"CREATE INDEX ON {table} ({column})")
        sql(f"CREATE INDEX ON {table} (user_id, posted_on DESC, id DESC)")
    for table in (PLAIN, PART):
        for column, target in FOREIGN_KEYS.items():
            sql(
                f"ALTER TABLE {table} ADD FOREIGN KEY ({column}) REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
            )
    ((first, last),) = sql("SELECT min(posted_on), max(posted_on) FROM transactions_transaction")
    ahead = last + dt.timedelta(days=62)
    months = months_between(first, ahead)
    for month in months:
        end = (month + dt.timedelta(days=32)).replace(day=1)
        sql(f"CREATE TABLE {PART}_{month:%Y_%m} PARTITION OF {PART} FOR VALUES FROM ('{month}') TO ('{end}')")
    return len(months)


def dump_batches(batch_rows: int) -> tuple[list[bytes], int]:
    from django.db import connection

    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        statement = f"COPY (SELECT {COLUMNS} FROM transactions_transaction ORDER BY id) TO STDOUT"  # noqa: S608
        with cursor.cursor.copy(statement) as copy:
            for block in copy:
                buffer.write(block)
    rows = buffer.getvalue().splitlines(keepends=True)
    return [b"".join(rows[start : start + batch_rows]) for start in range(0, len(rows), batch_rows)], len(rows)


def load(table: str, batches: list[bytes]) -> float:
    sql(f"TRUNCATE {table}")
    return common.copy_batches(table, COLUMNS, batches)


def replay(table: str, key: str, batch: bytes) -> tuple[float, int]:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE replay (LIKE {PLAIN}) ON COMMIT DROP")
        with cursor.cursor.copy(f"COPY replay ({COLUMNS}) FROM STDIN") as copy:
            copy.write(batch)
        started = time.perf_counter()
        cursor.execute(f"INSERT INTO {table} SELECT * FROM replay ON CONFLICT ({key}) DO NOTHING")  # noqa: S608
        return time.perf_counter() - started, cursor.rowcount


def redated_duplicates(table: str, key: str, count: int = 100) -> int:
    """Rows a redated resend inserts: `count` stored lines again, same account and FITID, posted a
    month later (a pending line posting on another date), ids offset to be new; rolled back."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        columns = COLUMNS.replace("id, ", "id + 1000000000, ", 1).replace("posted_on", "posted_on + 31", 1)
        cursor.execute(
            f"INSERT INTO {table} ({COLUMNS}) "  # noqa: S608  (constants)
            f"SELECT {columns} FROM {table} WHERE posted_on < (SELECT max(posted_on) - 31 FROM {table}) "
            f"ORDER BY id LIMIT {count} ON CONFLICT ({key}) DO NOTHING"
        )
        inserted = cursor.rowcount
        transaction.set_rollback(True)
    return inserted


def explain(statement: str, params: list[Any]) -> list[str]:
    rows = sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
    return [line for (line,) in rows]


def timed(statement: str, params: list[Any]) -> float:
    started = time.perf_counter()
    sql(statement, params)
    return time.perf_counter() - started


def queries(args: argparse.Namespace) -> Row:
    from mint.converters import next_month
    from mint.models import User
    from transactions.selectors import transaction_list_for_user

    ((last,),) = sql("SELECT max(posted_on) FROM transactions_transaction")
    month = (last.replace(day=1) - dt.timedelta(days=1)).replace(day=1)  # the last full month
    users = [
        user_id
        for (user_id,) in sql(
            "SELECT DISTINCT user_id FROM transactions_transaction WHERE posted_on >= %s ORDER BY user_id LIMIT %s",
            [month, args.sample_users],
        )
    ]
    list_sql, list_params = transaction_list_for_user(user=User(pk=users[0]), month=month)[:50].query.sql_with_params()
    # The month over every user: the rebuild's grouping (aggregates._recomputed) without its users.
    month_sql = (
        "SELECT user_id, date_trunc('month', posted_on)::date, category_id, sum(amount), count(*) "
        'FROM "transactions_transaction" WHERE posted_on >= %s AND posted_on < %s GROUP BY 1, 2, 3'
    )
    month_params = [month, next_month(month)]
    sql("ANALYZE")  # the joined tables too: the list query joins accounts, categories, merchants
    found: Row = {"month": month.isoformat(), "sample_users": len(users)}
    for table in (PLAIN, PART):
        sql(f"VACUUM ANALYZE {table}")
        list_table = list_sql.replace('"transactions_transaction"', f'"{table}"')
        month_table = month_sql.replace('"transactions_transaction"', f'"{table}"')
        list_times = [
            timed(list_table, [user_id if param == users[0] else param for param in list_params])
            for _ in range(args.query_runs)
            for user_id in users
        ]
        month_times = [timed(month_table, list(month_params)) for _ in range(args.query_runs)]
        plans = {
            "user_month_list": explain(list_table, list(list_params)),
            "month_all_users": explain(month_table, list(month_params)),
        }
        found[table] = {
            "user_month_list_ms": round(statistics.median(list_times) * 1000, 2),
            "month_all_users_ms": round(statistics.median(month_times) * 1000, 1),
            "plans": plans,
            "partitions_scanned": {
                name: len(set(re.findall(rf"{PART}_\d{{4}}_\d{{2}}", "\n".join(plan)))) for name, plan in plans.items()
            },
        }
    return found


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="loads of each table")
    parser.add_argument("--query-runs", type=int, default=7)
    parser.add_argument("--sample-users", type=int, default=20)
    parser.add_argument("--batch-rows", type=int, default=20_000, help="rows per committed COPY")
    parser.add_argument("--users", type=int, help="for the generator, when the database is empty")
    parser.add_argument("--transactions", type=int, help="likewise")
    parser.add_argument("--quick", action="store_true", help="500,000 transactions, 1 load of each")
    parser.add_argument("--database-url", help="default mint_bench_data (--quick: mint_bench_recompute_quick)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--json", type=Path, default=VAR / "partitions.json")
    args = parser.parse_args()
    recompute.data_defaults(parser, args)
    common.check_bench_urls(parser, args.database_url)
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    datagen.ensure_database(args.database_url)
    recompute.ensure_data(args)
    datagen.setup_django(args.database_url, args.redis_url)
    partitions = create_tables()
    batches, rows = dump_batches(args.batch_rows)
    log(f"{rows:,} rows in {len(batches)} batches; {partitions} monthly partitions")
    loads: dict[str, list[float]] = {PLAIN: [], PART: []}
    for number in range(args.runs):
        for table in (PLAIN, PART):
            loads[table].append(load(table, batches))
        log(f"load {number + 1}/{args.runs}: plain {loads[PLAIN][-1]:.1f} s, partitioned {loads[PART][-1]:.1f} s")
    keys = {PLAIN: "account_id, external_id", PART: "account_id, external_id, posted_on"}
    replays = {table: replay(table, key, batches[-1]) for table, key in keys.items()}
    if any(inserted for _, inserted in replays.values()):
        raise SystemExit(f"a replay inserted rows: {replays}")
    # What the dedupe key lets through: on the plain table none, on the partitioned one all.
    redated = {table: redated_duplicates(table, key) for table, key in keys.items()}
    found = queries(args)
    if any(count > 1 for count in found[PART]["partitions_scanned"].values()):
        raise SystemExit(f"partition pruning failed: {found[PART]['partitions_scanned']}")
    sizes = dict(sql(f"SELECT t, pg_total_relation_size(t::regclass) FROM unnest(ARRAY['{PLAIN}']) AS t"))  # noqa: S608
    (part_size,) = sql(
        f"SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = '{PART}'::regclass"  # noqa: S608
    )
    sizes[PART] = int(part_size[0])
    result: Row = {
        "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        "date": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        "database": urlsplit(args.database_url).path.lstrip("/"),
        "rows": rows,
        "partitions": partitions,
        "batch_rows": args.batch_rows,
        "load_s": {table: [round(value, 2) for value in values] for table, values in loads.items()},
        "rows_per_s": {table: round(rows / statistics.median(values)) for table, values in loads.items()},
        "replay_batch_s": {table: round(seconds, 3) for table, (seconds, _) in replays.items()},
        "redated_resend_of_100_inserted": redated,
        "size_mb": {table: round(size / 2**20) for table, size in sizes.items()},
        "queries": found,
    }
    sql(f"DROP TABLE {PLAIN}, {PART}")
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str))
    print(f"\n{rows:,} rows, {partitions} monthly partitions, month queried {found['month']}")
    print("| | plain | partitioned |\n|---|---|---|")
    print(f"| COPY rows/s (median) | {result['rows_per_s'][PLAIN]:,} | {result['rows_per_s'][PART]:,} |")
    print(f"| replay of one batch, ON CONFLICT DO NOTHING (s) | {replays[PLAIN][0]:.3f} | {replays[PART][0]:.3f} |")
    print(f"| a resend of 100 lines posted a month later: rows inserted | {redated[PLAIN]} | {redated[PART]} |")
    print(f"| size with indexes (MB) | {result['size_mb'][PLAIN]:,} | {result['size_mb'][PART]:,} |")
    for name, unit in (
        ("user_month_list_ms", "one user's month list, first page (ms)"),
        ("month_all_users_ms", "one month, every user, grouped (ms)"),
    ):
        print(f"| {unit} | {found[PLAIN][name]} | {found[PART][name]} |")
    print(f"partitions scanned (partitioned): {found[PART]['partitions_scanned']}")
    for table in (PLAIN, PART):
        for name, plan in found[table]["plans"].items():
            print(f"\nEXPLAIN (ANALYZE, BUFFERS), {table}, {name}:")
            print("\n".join(f"  {line}" for line in plan))
    print(f"wrote {os.path.relpath(args.json, ROOT)} ({result['elapsed_seconds']:.0f} s in all)")


if __name__ == "__main__":
    main()
