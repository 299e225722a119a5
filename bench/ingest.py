"""Ingestion benchmark: end-to-end bulk ingestion on PostgreSQL beside the COPY ceiling, in one run.

    .venv/bin/python bench/ingest.py [--users 2000] [--per-user 100] [--batch-users 100] [--runs 3] [--quick]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth for `postgres`) and Redis on 127.0.0.1:6379.
Everything runs in one process (one worker) against a dedicated database (`mint_bench_ingest`,
created when missing and migrated on every run); the tables the runs write are emptied before
each run, so every run starts from the same empty tables with the same indexes.

1. Data: `--users` users with three accounts each and `--per-user` lines of synthetic history
   each (bench/datagen.py's generator: card-feed descriptors from the curated merchant map,
   refunds, payroll, transfers between own accounts), written as one CSV statement file per
   account, as a bank's export reads (date, description, amount; no ids, so the parser derives
   content keys). Built before any timing.
2. End to end, bulk (`transactions.bulk.statements_ingest_bulk`): per batch of `--batch-users`
   users, parse every file with the project's own reader (accounts.providers.files.file_parse),
   then one database transaction: locks, dedupe, categorize, COPY to staging, insert, aggregate
   upsert; then the after-commit work (one cache refresh and one budget task for the batch).
   Transactions/s counts lines ingested over the wall time of all of it.
3. The ceiling: the very rows step 2 stored (dumped with COPY TO), loaded with `COPY ... FROM
   STDIN` into the same table with the same indexes and foreign keys, in the same batches, one
   committed transaction per batch. Rows/s.
4. Replay: the same files through step 2 again, on top of the last run's rows: must insert 0
   and leave monthly_spending exactly as it was (asserted).
5. For scale, `statements_ingest` (the per-user path a sync job uses) on the first
   `--sample-users` users, one call per user; its monthly_spending must equal the bulk path's
   for those users (asserted).
Each of 2-4 runs `--runs` times and the median is reported. With --profile, one more bulk run
under cProfile; its top entries are printed and saved.

Prints a table and writes var/bench/ingest.json.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common, datagen  # noqa: E402  (after the path is set)
from bench.common import log_stderr as log  # noqa: E402

VAR = common.VAR
AIM_TPS = 30_000
AIM_SHARE = 0.25
COLUMNS = (
    "external_id, posted_on, amount, currency, description, memo, mcc, merchant_key, category_source, created_at, "
    "updated_at, account_id, category_id, merchant_id, raw_payload_id, user_id, pending"
)
RESET_TABLES = (
    "transactions_transaction",
    "transactions_transactionkey",  # the dedupe keys; the COPY ceiling loads rows only
    "monthly_spending",
    "categories_unmatchedmerchantuser",
    "categories_unmatchedmerchant",
    "django_q_ormq",
)

Row = dict[str, Any]
Files = list[tuple[int, list[tuple[Any, bytes]]]]  # (user id, [(account, CSV bytes)])


def csv_file(lines: list[Any]) -> bytes:
    """A bank's CSV export of the lines: date, description, amount; no transaction ids."""
    out = io.StringIO()
    out.write("Date,Description,Amount\n")
    for line in lines:
        out.write(f"{line.posted_on:%Y-%m-%d},{line.description},{line.amount}\n")
    return out.getvalue().encode()


def build_files(args: argparse.Namespace) -> tuple[Files, int]:
    users = datagen.users_ensure(args.users, prefix="ingest-")
    generator = datagen.Generator(seed=args.seed, today=dt.date.fromisoformat(args.today))
    files: Files = []
    lines = 0
    for index, (user_id, accounts) in enumerate(users):
        history = generator.user(index, args.per_user)
        files.append((user_id, [(accounts[kind], csv_file(rows)) for kind, rows in history.lines.items() if rows]))
        lines += sum(len(rows) for rows in history.lines.values())
    return files, lines


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(RESET_TABLES)}")
        cursor.execute("VACUUM ANALYZE transactions_transaction")


def totals_fingerprint(user_ids: list[int] | None = None) -> tuple[Any, ...]:
    """monthly_spending summed and hashed in key order: equal fingerprints, equal tables."""
    from django.db import connection

    sql = (
        "SELECT count(*), sum(amount), sum(txn_count), md5(string_agg(concat_ws(',', user_id, month, "
        "category_id, amount, txn_count), ';' ORDER BY user_id, month, category_id)) FROM monthly_spending"
    )
    with connection.cursor() as cursor:
        if user_ids is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql + " WHERE user_id = ANY(%s)", [user_ids])
        return tuple(cursor.fetchone())


class CommitHookTimer:
    """Time spent in after-commit work (Django runs it inside run_and_clear_commit_hooks)."""

    def __init__(self) -> None:
        from django.db import connection

        self.seconds = 0.0
        original = connection.run_and_clear_commit_hooks

        def timed() -> None:
            started = time.perf_counter()
            try:
                original()
            finally:
                self.seconds += time.perf_counter() - started

        connection.run_and_clear_commit_hooks = timed  # type: ignore[method-assign]


def parse_batch(batch_files: Files) -> dict[int, list[tuple[Any, Any]]]:
    from accounts.providers.files import file_parse

    parsed: dict[int, list[tuple[Any, Any]]] = {}
    for user_id, files in batch_files:
        parsed[user_id] = [
            (account, file_parse(filename="statement.csv", raw=raw).statements[0]) for account, raw in files
        ]
    return parsed


def bulk_run(files: Files, lines: int, batch_users: int, hooks: CommitHookTimer) -> Row:
    from transactions.bulk import statements_ingest_bulk

    parse_s = ingest_s = 0.0
    hooks.seconds = 0.0
    new = existing = 0
    started = time.perf_counter()
    for start in range(0, len(files), batch_users):
        tick = time.perf_counter()
        batch = parse_batch(files[start : start + batch_users])
        tock = time.perf_counter()
        results = statements_ingest_bulk(batch=batch)
        parse_s += tock - tick
        ingest_s += time.perf_counter() - tock
        new += sum(result.new for result in results.values())
        existing += sum(result.existing for result in results.values())
    elapsed = time.perf_counter() - started
    return {
        "lines": lines,
        "new": new,
        "existing": existing,
        "seconds": round(elapsed, 3),
        "tps": round(lines / elapsed),
        "stages_s": {
            "parse": round(parse_s, 3),
            "transaction": round(ingest_s - hooks.seconds, 3),
            "after_commit": round(hooks.seconds, 3),
        },
    }


def dump_rows(batch_rows: list[int]) -> list[bytes]:
    """The stored rows as COPY text, split into the bulk run's batches (rows are in id order)."""
    from django.db import connection

    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        sql = f"COPY (SELECT {COLUMNS} FROM transactions_transaction ORDER BY id) TO STDOUT"  # noqa: S608
        with cursor.cursor.copy(sql) as copy:
            for block in copy:
                buffer.write(block)
    rows = buffer.getvalue().splitlines(keepends=True)
    batches, start = [], 0
    for count in batch_rows:
        batches.append(b"".join(rows[start : start + count]))
        start += count
    return batches


def ceiling_run(batches: list[bytes], rows: int) -> Row:
    elapsed = common.copy_batches("transactions_transaction", COLUMNS, batches)
    return {"rows": rows, "seconds": round(elapsed, 3), "rows_per_s": round(rows / elapsed)}


def per_user_run(files: Files) -> Row:
    from transactions.services import statements_ingest

    lines = new = 0
    started = time.perf_counter()
    for user_id, pairs in parse_batch(files).items():
        result = statements_ingest(user_id=user_id, statements=pairs)
        lines += result.new + result.existing
        new += result.new
    elapsed = time.perf_counter() - started
    return {"lines": lines, "new": new, "seconds": round(elapsed, 3), "tps": round(lines / elapsed)}


def rows_per_batch(files: Files, batch_users: int) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id, count(*) FROM transactions_transaction GROUP BY user_id")
        by_user = dict(cursor.fetchall())
    return [
        sum(by_user.get(user_id, 0) for user_id, _ in files[start : start + batch_users])
        for start in range(0, len(files), batch_users)
    ]


def median(runs: list[Row], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def profile_top(run: Callable[[], Row], limit: int = 20) -> list[Row]:
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = os.path.relpath(filename, ROOT) if filename.startswith(str(ROOT)) else Path(filename).name
        entries.append(
            {"function": f"{where}:{line}({name})", "calls": calls, "own_s": own, "cumulative_s": cumulative}
        )
    entries.sort(key=lambda entry: -entry["own_s"])
    return [
        {**entry, "own_s": round(entry["own_s"], 3), "cumulative_s": round(entry["cumulative_s"], 3)}
        for entry in entries[:limit]
    ]


def run_benchmark(args: argparse.Namespace) -> Row:
    from django.db import connection

    files, lines = build_files(args)
    log(f"{args.users:,} users, {lines:,} lines in {sum(len(f) for _, f in files):,} CSV files")
    hooks = CommitHookTimer()
    bulk: list[Row] = []
    ceiling: list[Row] = []
    replay: list[Row] = []
    for number in range(args.runs):
        reset()
        run = bulk_run(files, lines, args.batch_users, hooks)
        if run["new"] != lines:
            raise SystemExit(f"bulk run {number + 1}: {run['new']:,} rows inserted, expected {lines:,}")
        bulk.append(run)
        log(f"bulk run {number + 1}: {run['tps']:,} transactions/s {run['stages_s']}")
        before = totals_fingerprint()
        sample_totals = totals_fingerprint([user_id for user_id, _ in files[: args.sample_users]])
        again = bulk_run(files, lines, args.batch_users, hooks)
        if again["new"] != 0 or totals_fingerprint() != before:
            raise SystemExit(f"replay {number + 1} inserted {again['new']:,} rows or changed monthly_spending")
        replay.append(again)
        log(f"replay {number + 1}: {again['tps']:,} transactions/s, 0 inserted, totals unchanged")
        batches = dump_rows(rows_per_batch(files, args.batch_users))
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM transactions_transaction")
            (stored,) = cursor.fetchone()
        reset()
        copied = ceiling_run(batches, stored)
        ceiling.append(copied)
        log(f"COPY ceiling run {number + 1}: {copied['rows_per_s']:,} rows/s")
    reset()
    sample = files[: args.sample_users]
    per_user = per_user_run(sample)
    if totals_fingerprint([user_id for user_id, _ in sample]) != sample_totals:
        raise SystemExit("statements_ingest and the bulk path disagree on monthly_spending for the sample users")
    log(f"statements_ingest, {len(sample):,} users: {per_user['tps']:,} transactions/s (same totals as bulk)")
    profile = None
    if args.profile:
        reset()
        profile = profile_top(lambda: bulk_run(files, lines, args.batch_users, hooks))
    bulk_tps = median(bulk, "tps")
    ceiling_rps = median(ceiling, "rows_per_s")
    summary = {
        "copy_ceiling_rows_per_s": ceiling_rps,
        "bulk_tps": bulk_tps,
        "bulk_share_of_ceiling": round(bulk_tps / ceiling_rps, 3),
        "bulk_stages_s": {
            stage: statistics.median(run["stages_s"][stage] for run in bulk) for stage in bulk[0]["stages_s"]
        },
        "replay_tps": median(replay, "tps"),
        "statements_ingest_tps": per_user["tps"],
    }
    return {
        "summary": summary,
        "aims": {
            f"at least {AIM_TPS:,} transactions/s per worker": {"met": bulk_tps >= AIM_TPS, "value": bulk_tps},
            f"at least {AIM_SHARE:.0%} of the COPY ceiling": {
                "met": bulk_tps / ceiling_rps >= AIM_SHARE,
                "value": summary["bulk_share_of_ceiling"],
            },
        },
        "runs": {"bulk": bulk, "ceiling": ceiling, "replay": replay, "statements_ingest": per_user},
        "profile_top_own_time": profile,
    }


def table(result: Row, args: argparse.Namespace) -> str:
    summary = result["summary"]
    ceiling = summary["copy_ceiling_rows_per_s"]
    stages = summary["bulk_stages_s"]
    rows = [
        ("COPY into transactions_transaction (the ceiling)", ceiling, "rows/s"),
        ("bulk ingestion, end to end (parse, dedupe, categorize, insert, aggregate)", summary["bulk_tps"], "txn/s"),
        ("replay of the same files (0 inserted, totals unchanged)", summary["replay_tps"], "txn/s"),
        (
            f"statements_ingest, one call per user ({args.sample_users} users)",
            summary["statements_ingest_tps"],
            "txn/s",
        ),
    ]
    lines = ["| measurement | per second | share of ceiling |", "|---|---|---|"]
    lines += [f"| {what} | {value:,.0f} {unit} | {value / ceiling:.1%} |" for what, value, unit in rows]
    total = sum(stages.values())
    lines.append("")
    lines.append(
        "bulk run, median seconds per stage: " + ", ".join(f"{k} {v:.2f} ({v / total:.0%})" for k, v in stages.items())
    )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--per-user", type=int, default=100, help="lines of history per user")
    parser.add_argument("--batch-users", type=int, default=100, help="users per database transaction")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample-users", type=int, default=200, help="users ingested with statements_ingest")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--today", default="2026-06-30", help="the last day of the generated history")
    parser.add_argument("--quick", action="store_true", help="a smoke run for CI: 300 users, 1 run")
    parser.add_argument("--profile", action="store_true", help="one more bulk run under cProfile")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mint_bench_ingest")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="the bench's own Redis database")
    parser.add_argument("--json", type=Path, default=VAR / "ingest.json")
    args = parser.parse_args()
    if args.quick:
        args.users, args.runs, args.sample_users = 300, 1, 50
    args.sample_users = min(args.sample_users, args.users)
    name = args.database_url.rsplit("/", 1)[-1]
    if "bench" not in name and "ingest" not in name:
        parser.error("--database-url must name a database for the benchmark: its tables are emptied")
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    datagen.ensure_database(args.database_url)
    datagen.setup_django(args.database_url, args.redis_url)
    result = run_benchmark(args)
    import django
    import psycopg

    output = {
        "command": common.command_line(),
        "date": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "loadavg_at_end": [round(v, 2) for v in os.getloadavg()]},
        "versions": {"python": platform.python_version(), "django": django.__version__, "psycopg": psycopg.__version__},
        "settings": {key: getattr(args, key) for key in ("users", "per_user", "batch_users", "runs", "sample_users")},
        **result,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2, default=str))
    print()
    print(table(result, args))
    print()
    for aim, verdict in result["aims"].items():
        print(f"aim, {aim}: {'met' if verdict['met'] else 'NOT met'} ({verdict['value']:,})")
    if result["profile_top_own_time"]:
        print("\nprofile of one bulk run, top own time:")
        for entry in result["profile_top_own_time"][:15]:
            own, cumulative, calls = entry["own_s"], entry["cumulative_s"], entry["calls"]
            print(f"  {own:7.3f} s own {cumulative:7.3f} s cum {calls:>9,}  {entry['function']}")
    print(f"wrote {os.path.relpath(args.json, ROOT)} ({output['elapsed_seconds']:.0f} s in all)")


if __name__ == "__main__":
    main()
