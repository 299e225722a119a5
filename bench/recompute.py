"""Recompute benchmark: `manage.py rebuild_spending` over every user beside the bare SQL it does, in one run.

    .venv/bin/python bench/recompute.py [--users 100000] [--transactions 10000000] [--runs 3] [--quick]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth for `postgres`) and Redis on 127.0.0.1:6379.
Works on the data generator's database (`mint_bench_data`; `--quick`: `mint_bench_recompute_quick`,
5,000 users and 500,000 transactions). When the database is missing or holds no transactions,
bench/datagen.py fills it first with `--users` and `--transactions` (10 M take 6-13 minutes
here); otherwise its rows are used as they are, and the table says how many there are.

1. The floor: one `INSERT INTO recompute_scratch SELECT user_id, date_trunc('month', posted_on),
   category_id, sum(amount), count(*), now() FROM transactions_transaction GROUP BY 1, 2, 3`,
   committed. `recompute_scratch` is a regular (logged) table made with `LIKE monthly_spending
   INCLUDING ALL`: the same columns and the same four indexes (primary key, the unique
   (user, month, category) key, the user and category foreign-key indexes), emptied before
   each run. No foreign keys, no locks, no batches: the least the database can do to write
   every aggregate row.
2. The product: `manage.py rebuild_spending` (the real command, in a subprocess, on the same
   database, production settings) over every user. monthly_spending is full (as ingestion left
   it, or as the last run rebuilt it) and vacuumed before each run: a rebuild replaces rows, it
   does not fill an empty table. The wall time includes the subprocess' start (Python, Django;
   measured separately with `manage.py check` and shown).
3. Their ratio (aim: at most 1.5; also shown without the subprocess' start) and the command's
   time against the aim of 45 s.
Each runs `--runs` times, alternating; medians are reported. Afterwards monthly_spending must
equal the floor's table row for row (one SQL comparison, asserted). Then, once, the other end:
monthly_spending emptied and rebuilt by the command (a restore: every row written), compared
again; and `manage.py check_spending` must report no drift (timed, once).

With --profile: per-batch times of spending_rebuild in this process, the batch-size effect
(`--batch-sizes`), and EXPLAIN (ANALYZE, BUFFERS) of one batch's statements (rolled back).

Prints a table and writes var/bench/recompute.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common, datagen  # noqa: E402  (after the path is set)
from bench.common import log_stderr as log  # noqa: E402

VAR = common.VAR
AIM_SECONDS = 45.0
AIM_RATIO = 1.5
SCRATCH = "recompute_scratch"
FLOOR_SQL = f"""
INSERT INTO {SCRATCH} (user_id, month, category_id, amount, txn_count, updated_at)
SELECT user_id, date_trunc('month', posted_on)::date, category_id, sum(amount), count(*), now()
FROM transactions_transaction GROUP BY 1, 2, 3
"""  # noqa: S608  (constants)

Row = dict[str, Any]


def transaction_count(database_url: str) -> int:
    """Rows in transactions_transaction, 0 when the database or the table is missing."""
    import psycopg

    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            found = conn.execute("SELECT to_regclass('transactions_transaction') IS NOT NULL").fetchone()
            if not found or not found[0]:
                return 0
            row = conn.execute("SELECT count(*) FROM transactions_transaction").fetchone()
            return int(row[0]) if row else 0
    except psycopg.OperationalError:
        return 0


def ensure_data(args: argparse.Namespace) -> None:
    if transaction_count(args.database_url):
        return
    log(f"no transactions in {urlsplit(args.database_url).path.lstrip('/')}: generating them")
    command = [
        sys.executable,
        str(ROOT / "bench" / "datagen.py"),
        f"--users={args.users}",
        f"--transactions={args.transactions}",
        f"--database-url={args.database_url}",
        f"--redis-url={args.redis_url}",
        f"--json={VAR / 'recompute-datagen.json'}",
    ]
    subprocess.run(command, check=True)  # noqa: S603  (our own interpreter and script)


def sql(statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def sizes() -> Row:
    (row,) = sql(
        "SELECT (SELECT count(*) FROM transactions_transaction), (SELECT count(*) FROM mint_user), "
        "(SELECT count(DISTINCT user_id) FROM transactions_transaction), "
        "(SELECT count(DISTINCT date_trunc('month', posted_on)) FROM transactions_transaction), "
        "pg_size_pretty(pg_total_relation_size('transactions_transaction'))"
    )
    return dict(zip(["transactions", "users", "users_with_transactions", "months", "table_size"], row, strict=True))


def floor_run() -> float:
    from django.db import connection, transaction

    sql(f"TRUNCATE {SCRATCH}")
    sql(f"VACUUM ANALYZE {SCRATCH}")
    started = time.perf_counter()
    with transaction.atomic():
        sql(FLOOR_SQL)
    elapsed = time.perf_counter() - started
    connection.close()  # nothing of this connection's cache helps the next subprocess
    return elapsed


def manage(*arguments: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603  (our own interpreter and manage.py)
        [sys.executable, str(ROOT / "manage.py"), *arguments], check=True, capture_output=True, text=True
    )
    return time.perf_counter() - started, done.stdout.strip()


def command_run(batch_size: int | None) -> tuple[float, str]:
    sql("VACUUM ANALYZE monthly_spending")
    extra = [f"--batch-size={batch_size}"] if batch_size else []
    return manage("rebuild_spending", *extra)


def differences() -> int:
    """Aggregate rows where monthly_spending and the floor's table differ (zero rows = no row)."""
    (row,) = sql(
        f"""
        SELECT count(*) FROM (
            SELECT user_id, month, category_id, amount, txn_count FROM monthly_spending
            WHERE amount <> 0 OR txn_count <> 0
        ) AS stored FULL JOIN {SCRATCH} AS floor USING (user_id, month, category_id)
        WHERE stored.amount IS DISTINCT FROM floor.amount OR stored.txn_count IS DISTINCT FROM floor.txn_count
        """  # noqa: S608  (constants)
    )
    return int(row[0])


def profile(args: argparse.Namespace) -> Row:
    """Per-batch times in this process, the batch-size effect, and one batch's plans."""
    from django.db import connection, transaction

    from transactions.aggregates import spending_rebuild, user_id_batches

    found: Row = {"batch_sizes": {}}
    for batch_size in args.batch_sizes:
        sql("VACUUM ANALYZE monthly_spending")
        times: list[float] = []
        started = time.perf_counter()
        for batch in user_id_batches(batch_size=batch_size):
            tick = time.perf_counter()
            spending_rebuild(user_ids=batch)
            times.append(time.perf_counter() - tick)
        elapsed = time.perf_counter() - started
        found["batch_sizes"][str(batch_size)] = {
            "seconds": round(elapsed, 2),
            "batches": len(times),
            "batch_median_s": round(statistics.median(times), 4),
            "batch_max_s": round(max(times), 4),
        }
        log(f"profile: batch size {batch_size}: {elapsed:.1f} s in {len(times)} batches")
    # One batch's statements as spending_rebuild issues them, timed, then each explained;
    # all rolled back. The cache drop after commit is timed on its own.
    batch = next(user_id_batches(batch_size=args.batch_sizes[0]))
    issued: list[tuple[str, Any, float]] = []

    def record(execute: Any, statement: str, params: Any, many: bool, context: Any) -> Any:
        tick = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            issued.append((statement, params, time.perf_counter() - tick))

    with transaction.atomic():
        with connection.execute_wrapper(record):
            spending_rebuild(user_ids=batch)
        transaction.set_rollback(True)
    plans: Row = {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            for number, (statement, params, seconds) in enumerate(issued):
                if not statement.lstrip().upper().startswith(("WITH", "INSERT", "DELETE", "SELECT")):
                    continue
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
                # The batch's ids, spelled out in the plan, shortened to their first and last.
                plan = [re.sub(r"\{(\d+),[\d,]*,(\d+)\}", r"{\1,...,\2}", line) for (line,) in cursor.fetchall()]
                plans[f"statement {number + 1} ({seconds:.3f} s)"] = plan
        transaction.set_rollback(True)
    from django.core.cache import cache

    from transactions.selectors import spending_cache_key

    (months,) = sql("SELECT array_agg(DISTINCT month) FROM monthly_spending")
    keys = [spending_cache_key(user_id, month) for user_id in batch for month in months[0] or []]
    tick = time.perf_counter()
    cache.delete_many(keys)
    found["cache_drop_s"] = {"keys": len(keys), "seconds": round(time.perf_counter() - tick, 3)}
    found["plans"] = plans
    return found


def data_defaults(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill in the data this script and bench/partitions.py share: the database (mint_bench_data,
    --quick: mint_bench_recompute_quick), its size for the generator, and one run with --quick."""
    name = "mint_bench_recompute_quick" if args.quick else "mint_bench_data"
    args.database_url = args.database_url or f"postgres://postgres@127.0.0.1:5432/{name}"
    args.users = args.users or (5_000 if args.quick else 100_000)
    args.transactions = args.transactions or (500_000 if args.quick else 10_000_000)
    if args.quick and args.runs == parser.get_default("runs"):
        args.runs = 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, help="for the generator, when the database is empty (default 100,000)")
    parser.add_argument("--transactions", type=int, help="likewise (default 10,000,000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, help="rebuild_spending's --batch-size (default: the command's)")
    parser.add_argument("--profile", action="store_true", help="per-batch times, batch sizes, one batch's plans")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[2000, 500, 10000])
    parser.add_argument("--quick", action="store_true", help="5,000 users, 500,000 transactions, 1 run")
    parser.add_argument("--database-url", help="default mint_bench_data (--quick: mint_bench_recompute_quick)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6", help="the cache the command drops keys in")
    parser.add_argument("--json", type=Path, default=VAR / "recompute.json")
    args = parser.parse_args()
    data_defaults(parser, args)
    common.check_bench_urls(parser, args.database_url, args.redis_url)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def table(result: Row) -> str:
    medians = result["medians_s"]
    lines = [
        "| | seconds (median) |",
        "|---|---|",
        f"| (a) bare `INSERT ... SELECT ... GROUP BY` into {SCRATCH} | {medians['floor']:.1f} |",
        f"| (b) `manage.py rebuild_spending` (subprocess) | {medians['command']:.1f} |",
        f"| of which the subprocess' start (`manage.py check`) | {medians['startup']:.1f} |",
        f"| (b) / (a) | {result['ratio']:.2f} |",
        f"| (b) without the start / (a) | {result['ratio_without_start']:.2f} |",
        f"| `rebuild_spending` from an emptied monthly_spending (once) | {result['from_empty_s']:.1f} |",
        f"| `manage.py check_spending` afterwards (once) | {result['check_spending_s']:.1f} |",
    ]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    datagen.ensure_database(args.database_url)
    ensure_data(args)
    datagen.setup_django(args.database_url, args.redis_url)
    data = sizes()
    log(f"{data['transactions']:,} transactions of {data['users']:,} users over {data['months']} months")
    sql(f"DROP TABLE IF EXISTS {SCRATCH}")
    sql(f"CREATE TABLE {SCRATCH} (LIKE monthly_spending INCLUDING ALL)")
    sql("ANALYZE transactions_transaction")
    runs: list[Row] = []
    for number in range(args.runs):
        floor = floor_run()
        command, output = command_run(args.batch_size)
        startup, _ = manage("check")
        runs.append({"floor": round(floor, 2), "command": round(command, 2), "startup": round(startup, 2)})
        log(f"run {number + 1}/{args.runs}: floor {floor:.1f} s, rebuild_spending {command:.1f} s ({output})")
    (aggregates,) = sql(f"SELECT count(*) FROM {SCRATCH}")  # noqa: S608
    differing = differences()
    if differing:
        raise SystemExit(f"monthly_spending differs from the recompute in {differing} rows after rebuild_spending")
    # The other end: every row missing (a restore, not a repair), once.
    sql("TRUNCATE monthly_spending")
    from_empty, _ = command_run(args.batch_size)
    log(f"rebuild_spending from an empty monthly_spending: {from_empty:.1f} s")
    differing = differences()
    if differing:
        raise SystemExit(f"monthly_spending differs from the recompute in {differing} rows after the restore")
    check_s, check_output = manage("check_spending")
    log(check_output)
    medians = {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}
    ratio = medians["command"] / medians["floor"]
    result: Row = {
        "command": common.command_line(),
        "date": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "database": urlsplit(args.database_url).path.lstrip("/"),
        "data": {**data, "aggregate_rows": aggregates[0]},
        "batch_size": args.batch_size or 2000,
        "runs": runs,
        "medians_s": medians,
        "ratio": round(ratio, 3),
        "ratio_without_start": round((medians["command"] - medians["startup"]) / medians["floor"], 3),
        "from_empty_s": round(from_empty, 2),
        "differing_rows": differing,
        "check_spending_s": round(check_s, 1),
        "check_spending": check_output,
        "aims": {
            f"rebuild_spending under {AIM_SECONDS:.0f} s": {"met": medians["command"] < AIM_SECONDS},
            f"within {AIM_RATIO}x of the bare INSERT ... SELECT": {"met": ratio <= AIM_RATIO},
        },
    }
    if args.profile:
        result["profile"] = profile(args)
    sql(f"DROP TABLE {SCRATCH}")
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print()
    print(f"{data['transactions']:,} transactions, {data['users']:,} users, {aggregates[0]:,} aggregate rows")
    print(table(result))
    print()
    for aim, verdict in result["aims"].items():
        print(f"aim, {aim}: {'met' if verdict['met'] else 'NOT met'}")
    if args.profile:
        print(f"profile: cache drop of one batch: {result['profile']['cache_drop_s']}")
        for size, figures in result["profile"]["batch_sizes"].items():
            print(f"profile: batch size {size}: {figures}")
        for name, plan in result["profile"]["plans"].items():
            print(f"\nEXPLAIN (ANALYZE, BUFFERS) of one batch's {name}:")
            print("\n".join(f"  {line}" for line in plan))
    print(f"wrote {os.path.relpath(args.json, ROOT)} ({result['elapsed_seconds']:.0f} s in all)")


if __name__ == "__main__":
    main()
