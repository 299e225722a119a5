"""Pages benchmark: the dashboard and the transactions list for a heavy user, over real HTTP.

    .venv/bin/python bench/pages.py [--quick] [--transactions 50000] [--duration 6] [--runs 3]

Needs what bench/widget.py needs (PostgreSQL and Redis on 127.0.0.1, wrk, Node.js with npm for
the open-loop generator `loadtest`), and reuses its server, load generators and bookkeeping.

1. Data: a dedicated database (`mint_bench_pages`, or `mint_bench_pages_quick` for --quick),
   created and migrated when missing. One heavy user with N transactions (default 50,000)
   over the last 24 months, ending today, across a checking account, a credit card and a
   savings account: purchases at merchants of the curated map written the way card feeds
   print them, refunds, payroll, rent, card payments and interest, each categorized by the
   product's categorizer; a few budgets, an API token, and some ordinary users (a few hundred
   transactions each) in the same tables. Rows go in with bulk_create, then
   `spending_rebuild` makes the monthly aggregates from them; skipped when already there.
2. Server: gunicorn, 2 sync workers, bench.settings, persistent database connections, Redis
   database 9. The heavy user is signed in once (a session in the session store); the pages
   are requested with its session cookie, the API with its token.
3. Load, for each page: closed loop at saturation with wrk (bench/widget.lua), then open loop
   with loadtest (bench/openloop.mjs) at half that throughput; the caches are warm (the same
   user on every request). Then "cold": the bench Redis database flushed before each of
   --cold-samples sequential requests (the spending summary, budgets and other cached reads
   come from PostgreSQL again). Each load measurement --runs times; medians reported.
4. Diagnostics: per page, what one request costs inside Django (django.test.Client in this
   process: wall time, SQL statements and their time, template rendering), and EXPLAIN
   (ANALYZE, BUFFERS) of the slowest statements on the transactions table.

Prints a table and the verdict against the aim (p95 under 100 ms) and writes var/bench/pages.json.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import datetime as dt
import functools
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402  (the project root on sys.path first)
    check_bench_urls,
    command_line,
    ensure_database,
    log,
    migrate,
    setup_django,
)
from bench.widget import (  # noqa: E402
    VAR,
    CpuSampler,
    RedisCounters,
    Server,
    bench_env,
    bench_token_key,
    fmt_ms,
    machine,
    measure,
    median_of,
    open_loop_run,
    tool_versions,
    wait_quiet,
    wrk_run,
)
from bench.widget import (  # noqa: E402
    require_tools as widget_require_tools,
)

MERCHANTS_CSV = ROOT / "categories" / "data" / "merchants.csv"
HEAVY_USERNAME = "pages-heavy"
ORDINARY_PREFIX = "pages-user-"
MONTHS = 24
P95_AIM_MS = 100.0
BATCH = 5_000

Row = dict[str, Any]

# What is measured: name -> (label, path, authentication).
TARGETS: dict[str, tuple[str, str, str]] = {
    "dashboard": ("dashboard, this month", "/", "session"),
    "list": ("transactions list, first page", "/transactions/", "session"),
    "search": ("transactions list, ?q=coffee", "/transactions/?q=coffee", "session"),
    "category": ("transactions list, ?category=food", "/transactions/?category=food", "session"),
    "page20": ("transactions list, ?page=20", "/transactions/?page=20", "session"),
    "api": ("API GET /api/v1/transactions/", "/api/v1/transactions/", "token"),
}

# Purchases: (weight, lowest, highest dollars) by parent category of the curated map.
PURCHASE_MIX: dict[str, tuple[float, float, float]] = {
    "food": (40, 3, 140),
    "transport": (10, 8, 90),
    "shopping": (18, 6, 260),
    "entertainment": (6, 5, 80),
    "health": (5, 8, 150),
    "bills": (4, 20, 180),
    "personal": (3, 12, 120),
    "travel": (2, 60, 900),
    "home": (2, 15, 400),
}
CITIES = [("SEATTLE", "WA"), ("AUSTIN", "TX"), ("BROOKLYN", "NY"), ("OAKLAND", "CA"), ("CHICAGO", "IL")]
BUDGETS = {
    "food": Decimal("900"),
    "food/coffee": Decimal("60"),
    "transport": Decimal("250"),
    "shopping": Decimal("400"),
}


# ---------------------------------------------------------------------------------------------
# Data


def month_start(day: dt.date, back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def purchase_pool() -> tuple[list[tuple[str, float, float]], list[float]]:
    """(alias, low, high) for the curated map's shops, weighted by how often people buy there."""
    by_parent: dict[str, list[tuple[str, float, float]]] = {}
    with MERCHANTS_CSV.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            parent = row["category"].split("/")[0]
            if parent in PURCHASE_MIX:
                _, low, high = PURCHASE_MIX[parent]
                alias = row["aliases"].split("|")[0] or row["name"].upper()
                by_parent.setdefault(parent, []).append((alias, low, high))
    pool: list[tuple[str, float, float]] = []
    weights: list[float] = []
    for parent, found in by_parent.items():
        pool += found
        weights += [PURCHASE_MIX[parent][0] / len(found)] * len(found)
    return pool, weights


def history(count: int, today: dt.date, seed: int) -> list[tuple[str, dt.date, Decimal, str]]:
    """`count` lines (account kind, posted date, amount, descriptor) over the last 24 months."""
    rng = random.Random(seed)  # noqa: S311  (synthetic data, not security)
    pool, weights = purchase_pool()
    first = month_start(today, MONTHS - 1)
    days = (today - first).days + 1
    lines: list[tuple[str, dt.date, Decimal, str]] = []
    for back in range(MONTHS):
        month = month_start(today, back)
        if month > today:
            continue
        lines.append(("checking", month, Decimal("-2150.00"), "ACH DEBIT GREENVIEW PROPERTY MGMT RENT"))
        lines.append(("savings", month, Decimal("1.87"), "INTEREST PAYMENT"))
        lines.append(("checking", month.replace(day=3), Decimal("-1200.00"), "ONLINE PAYMENT TO CREDIT CARD"))
        lines.append(("credit-card", month.replace(day=3), Decimal("1200.00"), "PAYMENT THANK YOU"))
        for payday in (1, 15):
            if month.replace(day=payday) <= today:
                lines.append(("checking", month.replace(day=payday), Decimal("3412.55"), "ACME CORP PAYROLL PPD"))
    picks = rng.choices(pool, weights, k=max(count - len(lines), 0))
    for alias, low, high in picks:
        day = first + dt.timedelta(days=rng.randrange(days))
        amount = Decimal(f"{rng.uniform(low, high):.2f}")
        city, state = rng.choice(CITIES)
        shape = rng.random()
        if shape < 0.35:
            descriptor = f"{alias} #{rng.randint(1, 99999):05d} {city} {state}"
        elif shape < 0.5:
            descriptor = f"SQ *{alias} {city} {state}"
        elif shape < 0.65:
            descriptor = f"POS PURCHASE {alias} {rng.randint(1, 99999):05d} {city} {state}"
        elif shape < 0.8:
            descriptor = f"DEBIT CARD PURCHASE {day:%m/%d} {alias} {city} {state}"
        else:
            descriptor = alias
        refund = rng.random() < 0.03
        kind = "credit-card" if rng.random() < 0.65 else "checking"
        lines.append((kind, day, amount if refund else -amount, descriptor))
    return lines[:count]


def data_state(args: argparse.Namespace, today: dt.date) -> str:
    """Whether the data is there: `ok`, `empty` or `stale` (another size, or last month's data)."""
    from django.db.models import Count, Max

    from mint.models import User
    from transactions.models import Transaction

    heavy = User.objects.filter(username=HEAVY_USERNAME).first()
    if heavy is None:
        return "stale" if User.objects.filter(username__startswith=ORDINARY_PREFIX).exists() else "empty"
    found = Transaction.objects.filter(user=heavy).aggregate(rows=Count("pk"), newest=Max("posted_on"))
    fresh = found["newest"] is not None and found["newest"].replace(day=1) == today.replace(day=1)
    return "ok" if found["rows"] == args.transactions and fresh else "stale"


def load_data(args: argparse.Namespace, today: dt.date) -> None:
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from accounts.models import Account
    from budgets.models import Budget
    from categories.categorizer import get_categorizer
    from categories.models import Category
    from mint.models import User
    from security.models import ApiToken
    from security.services import api_token_display_prefix, api_token_key_hash
    from transactions.aggregates import spending_rebuild
    from transactions.models import Transaction, TransactionKey

    started = time.perf_counter()
    password = make_password(None)  # signed in through a session made here; no password works
    names = [HEAVY_USERNAME] + [f"{ORDINARY_PREFIX}{number:04d}" for number in range(args.ordinary_users)]
    User.objects.bulk_create(User(username=name, email=f"{name}@example.com", password=password) for name in names)
    users = {user.username: user for user in User.objects.filter(username__in=names)}
    heavy = users[HEAVY_USERNAME]
    ApiToken.objects.create(
        user=heavy,
        name="bench",
        key_hash=api_token_key_hash(bench_token_key(heavy.pk)),
        prefix=api_token_display_prefix(bench_token_key(heavy.pk)),
    )
    kinds = {"checking": "Everyday checking", "credit-card": "Rewards card", "savings": "Savings"}
    Account.objects.bulk_create(
        Account(user=user, name=name, kind=kind) for user in users.values() for kind, name in kinds.items()
    )
    accounts = {
        (account.user_id, account.kind): account.pk for account in Account.objects.filter(user__username__in=names)
    }
    by_path = dict(Category.objects.values_list("path", "pk"))
    Budget.objects.bulk_create(
        Budget(user=heavy, category_id=by_path[path], amount=amount) for path, amount in BUDGETS.items()
    )

    categorizer = get_categorizer()
    total = 0
    for index, user in enumerate(users.values()):
        count = args.transactions if user.pk == heavy.pk else args.ordinary_transactions
        rows = []
        for number, (kind, day, amount, descriptor) in enumerate(history(count, today, seed=index)):
            decided = categorizer.categorize(descriptor, amount=amount)
            rows.append(
                Transaction(
                    user_id=user.pk,
                    account_id=accounts[(user.pk, kind)],
                    external_id=f"pages-{number}",
                    posted_on=day,
                    amount=amount,
                    currency="USD",
                    description=descriptor,
                    merchant_id=decided.merchant_id,
                    merchant_key=decided.merchant_key,
                    category_id=decided.category_id,
                    category_source=decided.source,
                )
            )
        Transaction.objects.bulk_create(rows, batch_size=BATCH)
        TransactionKey.objects.bulk_create(  # as ingestion does: a later import of these ids dedupes
            [
                TransactionKey(account_id=row.account_id, external_id=row.external_id, transaction_id=row.pk)
                for row in rows
            ],
            batch_size=BATCH,
        )
        total += len(rows)
    log(f"transactions: {total:,} for {len(users)} users ({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    written = spending_rebuild(user_ids=[user.pk for user in users.values()])
    with connection.cursor() as cursor:
        for table in (Transaction._meta.db_table, "monthly_spending", Account._meta.db_table):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    log(f"monthly_spending: {written:,} rows rebuilt, vacuum analyze ({time.perf_counter() - started:.1f} s)")


def prepare_data(args: argparse.Namespace, env: dict[str, str]) -> None:
    from django.db import connections

    ensure_database(args.database_url, drop=args.reload)
    setup_django(env)
    migrate()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    today = dt.datetime.now(tz=dt.UTC).date()
    state = data_state(args, today)
    if state == "ok":
        log(f"data already loaded: {args.transactions:,} transactions for the heavy user (--reload to rebuild)")
        return
    if state == "stale":
        connections.close_all()
        ensure_database(args.database_url, drop=True)
        migrate()
    log(f"loading {args.transactions:,} transactions for the heavy user, {args.ordinary_users} ordinary users")
    load_data(args, today)


def write_credentials(args: argparse.Namespace) -> dict[str, Path]:
    """One header line per kind of authentication, as bench/widget.lua and openloop.mjs read them:
    the heavy user's API token, and a session cookie (a session made in the session store, the
    same as signing in makes)."""
    from django.conf import settings
    from django.test import Client

    from mint.models import User

    heavy = User.objects.get(username=HEAVY_USERNAME)
    client = Client()
    client.force_login(heavy)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    files = {"token": VAR / "pages-token.txt", "session": VAR / "pages-session.txt"}
    files["token"].write_text(f"{bench_token_key(heavy.pk)}\n")
    files["session"].write_text(f"Cookie: {settings.SESSION_COOKIE_NAME}={cookie}\n")
    args.session_cookie = f"{settings.SESSION_COOKIE_NAME}={cookie}"
    return files


# ---------------------------------------------------------------------------------------------
# Measurements


def request_headers(auth: str, args: argparse.Namespace) -> dict[str, str]:
    if auth == "token":
        return {"Authorization": f"Token {args.token}"}
    return {"Cookie": args.session_cookie}


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes, float]:
    import http.client

    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, body, (time.perf_counter() - started) * 1000
    finally:
        conn.close()


def preflight(port: int, args: argparse.Namespace) -> Row:
    """Every page answers 200 for the heavy user, and shows its transactions."""
    found: Row = {}
    for name, (_, path, auth) in TARGETS.items():
        status, body, elapsed = get(port, path, request_headers(auth, args))
        if status != 200:
            sys.exit(f"{path} answered {status}: {body[:300]!r}")
        found[name] = {"bytes": len(body), "first_request_ms": round(elapsed, 1)}
    status, _, _ = get(port, "/transactions/", {})
    if status != 302:
        sys.exit(f"/transactions/ without a session answered {status}, expected a redirect to sign in")
    return found


def cold_samples(port: int, path: str, headers: dict[str, str], redis: RedisCounters, count: int) -> Row:
    """Sequential requests, the bench Redis database flushed before each: every cached read misses."""
    times = []
    for _ in range(count):
        redis.flush()
        status, _, elapsed = get(port, path, headers)
        if status != 200:
            sys.exit(f"cold {path} answered {status}")
        times.append(elapsed)
    times.sort()
    return {
        "samples": count,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(int(len(times) * 0.95), len(times) - 1)], 1),
        "max_ms": round(times[-1], 1),
    }


def run_benchmark(args: argparse.Namespace, tools: dict[str, str], env: dict[str, str], files: dict[str, Path]) -> Row:
    redis = RedisCounters(args.redis_url)
    redis.flush()
    (VAR / "pages-gunicorn.log").unlink(missing_ok=True)
    server = Server(env, args.workers, VAR / "pages-gunicorn.log")
    cpu = CpuSampler(server, urlsplit(args.database_url).path.strip("/"))
    measurements: dict[str, list[Row]] = {}
    cold: dict[str, Row] = {}
    window = (0, 1, 0)  # the one line of the credentials file
    try:
        server.start()
        info: Row = {"preflight": preflight(server.port, args)}
        info["busy_cores_before_start"] = wait_quiet(args.quiet_wait)
        for name, (label, path, auth) in TARGETS.items():
            run_args = argparse.Namespace(**{**vars(args), "tokens_file": files[auth]})
            for number in range(args.runs):
                result = measure(
                    f"{label}, closed loop ({number + 1}/{args.runs})",
                    functools.partial(wrk_run, tools, run_args, server.port, path, window),
                    redis,
                    cpu,
                    port=server.port,
                )
                measurements.setdefault(f"{name}_closed", []).append(result)
            capacity = statistics.median(run["rps"] for run in measurements[f"{name}_closed"])
            rate = max(int(capacity * args.open_share), 1)
            for number in range(args.runs):
                result = measure(
                    f"{label}, open loop {rate}/s ({number + 1}/{args.runs})",
                    functools.partial(open_loop_run, tools, run_args, server.port, path, window, rate),
                    redis,
                    cpu,
                    port=server.port,
                )
                measurements.setdefault(f"{name}_open", []).append(result)
            cold[name] = cold_samples(server.port, path, request_headers(auth, args), redis, args.cold_samples)
            log(f"{label}, cold cache: p50 {fmt_ms(cold[name]['p50_ms'])}, p95 {fmt_ms(cold[name]['p95_ms'])}")
    finally:
        server.stop()
    return {"preflight": info, "measurements": measurements, "cold": cold}


# ---------------------------------------------------------------------------------------------
# Diagnostics


def in_process_costs(args: argparse.Namespace) -> Row:
    """Per page, one request inside Django alone (django.test.Client, no HTTP): wall time, SQL
    statements and their time, and the time spent rendering templates (which includes the
    queries the template evaluates lazily: the page's rows and the paginator's count)."""
    from django.test import Client

    from mint.models import User

    heavy = User.objects.get(username=HEAVY_USERNAME)
    client = Client()
    client.force_login(heavy)
    result: Row = {}
    for name, (_, path, auth) in TARGETS.items():
        headers = {"Authorization": f"Token {args.token}"} if auth == "token" else {}
        for _ in range(3):  # imports, connections, per-process caches
            client.get(path, headers=headers)
        walls = []
        for _ in range(args.in_process_samples):
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            walls.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                sys.exit(f"in-process {path} answered {response.status_code}")
        with recording_queries() as statements:
            client.get(path, headers=headers)
        profiler = cProfile.Profile()
        profiler.enable()
        client.get(path, headers=headers)
        profiler.disable()
        result[name] = {
            "wall_ms_median": round(statistics.median(walls), 2),
            "queries": len(statements),
            "sql_ms": round(sum(row["ms"] for row in statements), 2),
            "template_render_ms_profiled": round(render_time(profiler) * 1000, 2),
            "statements": sorted(statements, key=lambda row: -row["ms"]),
        }
        row = result[name]
        log(
            f"in process, {path}: {row['wall_ms_median']:.1f} ms, {row['queries']} SQL taking {row['sql_ms']:.1f} ms, "
            f"template rendering {row['template_render_ms_profiled']:.1f} ms under cProfile (with the SQL it runs)"
        )
    return result


@contextlib.contextmanager
def recording_queries() -> Iterator[list[Row]]:
    """Every statement sent on any database alias, with its parameters and time (DEBUG is off,
    so Django's own query log is not kept; an execute wrapper is)."""
    from django.db import connections

    statements: list[Row] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            statements.append({"ms": round(elapsed, 2), "sql": sql, "params": None if many else params})

    with contextlib.ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(record))
        yield statements


def render_time(profiler: cProfile.Profile) -> float:
    """Cumulative seconds in the Django template backend's render (the outermost template)."""
    stats = pstats.Stats(profiler)
    found = 0.0
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        if function == "render" and filename.endswith(os.path.join("template", "backends", "django.py")):
            found = max(found, row[3])
    return found


def explain_slowest(costs: Row) -> Row:
    """EXPLAIN (ANALYZE, BUFFERS) of the two slowest statements of each page on the transactions table."""
    from django.db import connection

    plans: Row = {}
    with connection.cursor() as cursor:
        for name, row in costs.items():
            touching = [statement for statement in row["statements"] if "transactions_transaction" in statement["sql"]]
            for index, statement in enumerate(touching[:2]):
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement["sql"], statement["params"])
                plans[f"{name}_{index + 1}"] = {
                    "sql": statement["sql"],
                    "params": statement["params"],
                    "ms_in_request": statement["ms"],
                    "plan": [line for (line,) in cursor.fetchall()],
                }
    return plans


# ---------------------------------------------------------------------------------------------
# Report


def summarise(results: Row) -> dict[str, Row]:
    summary = {name: median_of(runs) for name, runs in results["measurements"].items()}
    for row in summary.values():
        # Load-independent: what a request costs the workers (others' work on the machine
        # lowers the request rate, not this).
        rps, workers = row["rps"], row["cpu_cores"]["workers"]
        row["worker_cpu_ms_per_request"] = round(workers / rps * 1000, 1) if rps else None
    for name, row in results["cold"].items():
        summary[f"{name}_cold"] = row
    return summary


def table(summary: dict[str, Row], args: argparse.Namespace) -> str:
    lines = [
        "| page | load | req/s | p50 ms | p95 ms | p99 ms | errors | worker CPU ms/request "
        "| cores: workers / PostgreSQL / Redis / load gen / rest |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (label, _, _) in TARGETS.items():
        closed, open_ = summary[f"{name}_closed"], summary[f"{name}_open"]
        for load, row, decimals in (
            (f"closed, {args.connections} connections", closed, 1),
            (
                f"open, {open_['target_rps']:,} req/s{'' if open_['sustained_in_every_run'] else ' (not sustained)'}",
                open_,
                0,
            ),
        ):
            cells = ["-" if row[key] is None else f"{row[key]:.{decimals}f}" for key in ("p50_ms", "p95_ms", "p99_ms")]
            cores = row["cpu_cores"]
            used = " / ".join(
                f"{cores[key]:.2f}" for key in ("workers", "postgres", "redis", "load generator", "everything else")
            )
            rps = "-" if row["rps"] is None else f"{row['rps']:,.0f}"
            cost = row["worker_cpu_ms_per_request"]
            lines.append(
                f"| {label} | {load} | {rps} | {' | '.join(cells)} | {row['errors_total']} | {cost or '-'} | {used} |"
            )
        cold = summary[f"{name}_cold"]
        lines.append(
            f"| {label} | cold cache, {cold['samples']} sequential | | {cold['p50_ms']:.1f} | {cold['p95_ms']:.1f} "
            f"| max {cold['max_ms']:.1f} | | | |"
        )
    return "\n".join(lines)


def aims(summary: dict[str, Row]) -> dict[str, Row]:
    """p95 under 100 ms, judged on the open loop (half the page's saturation throughput) and on
    the cold sequential requests; a rate not sustained or any error fails it."""
    verdicts: dict[str, Row] = {}
    for name, (label, _, _) in TARGETS.items():
        open_, cold = summary[f"{name}_open"], summary[f"{name}_cold"]
        if not open_["sustained_in_every_run"] or open_["p95_ms"] is None or open_["errors_total"]:
            verdicts[label] = {"met": False, "why": "the open-loop rate was not sustained without errors"}
            continue
        met = open_["p95_ms"] < P95_AIM_MS and cold["p95_ms"] < P95_AIM_MS
        why = f"p95 {open_['p95_ms']:.0f} ms at {open_['target_rps']} req/s warm; {cold['p95_ms']:.0f} ms cold"
        verdicts[label] = {"met": met, "why": why}
    return verdicts


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke size: 5,000 transactions, one short run each")
    parser.add_argument("--transactions", type=int, help="the heavy user's transactions (default 50,000)")
    parser.add_argument("--ordinary-users", type=int, help="other users (default 50)")
    parser.add_argument("--ordinary-transactions", type=int, default=300, help="each other user's transactions")
    parser.add_argument("--duration", type=int, help="seconds per load measurement (default 6)")
    parser.add_argument("--runs", type=int, help="repetitions of each load measurement; medians reported (default 3)")
    parser.add_argument("--open-share", type=float, default=0.5, help="open-loop rate, share of saturation")
    parser.add_argument("--cold-samples", type=int, help="sequential cold-cache requests per page (default 20)")
    parser.add_argument("--in-process-samples", type=int, default=10, help="in-process requests timed per page")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (closed loop)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--database-url", help="dropped and rebuilt at will (default mint_bench_pages[_quick])")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9", help="flushed at will")
    parser.add_argument("--reload", action="store_true", help="drop the bench database and load it again")
    parser.add_argument("--quiet-wait", type=float, default=20, help="seconds to wait for other work to stop")
    parser.add_argument("--load-only", action="store_true", help="prepare the database and credentials, then stop")
    parser.add_argument("--json", type=Path, default=VAR / "pages.json")
    args = parser.parse_args()
    defaults = (
        {"transactions": 5_000, "ordinary_users": 5, "duration": 3, "runs": 1, "cold_samples": 10}
        if args.quick
        else {"transactions": 50_000, "ordinary_users": 50, "duration": 6, "runs": 3, "cold_samples": 20}
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.database_url is None:
        name = "mint_bench_pages_quick" if args.quick else "mint_bench_pages"
        args.database_url = f"postgres://postgres@127.0.0.1:5432/{name}"
    check_bench_urls(parser, args.database_url, args.redis_url)
    return args


def main() -> None:
    args = parse_args()
    tools = widget_require_tools()
    env = bench_env(args)
    # Its own var directory: the pages need their static files collected (the manifest storage
    # of production settings), which the widget's server does without.
    env["VAR_DIR"] = str(VAR / "pages-server")
    started = time.perf_counter()
    info = machine()
    RedisCounters(args.redis_url)
    prepare_data(args, env)
    files = write_credentials(args)
    args.token = files["token"].read_text().strip()
    if args.load_only:
        return
    results = run_benchmark(args, tools, env, files)
    costs = in_process_costs(args)
    plans = explain_slowest(costs)
    summary = summarise(results)
    info["loadavg_at_end"] = [round(value, 2) for value in os.getloadavg()]
    settings = {key: getattr(args, key) for key in ("transactions", "ordinary_users", "duration", "runs")}
    settings.update(quick=args.quick, connections=args.connections, workers=args.workers, open_share=args.open_share)
    output = {
        "command": command_line(),
        "date": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        "machine": info,
        "versions": tool_versions(tools),
        "settings": settings,
        "summary": summary,
        "aims": aims(summary),
        **results,
        "diagnostics": {"in_process": costs, "explain": plans},
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2, default=str))
    print()
    print(table(summary, args))
    print()
    for label, verdict in output["aims"].items():
        print(f"aim p95 < {P95_AIM_MS:.0f} ms, {label}: {'met' if verdict['met'] else 'NOT met'} ({verdict['why']})")
    for name, row in costs.items():
        print(
            f"in process, {TARGETS[name][1]}: {row['wall_ms_median']:.1f} ms, {row['queries']} SQL "
            f"({row['sql_ms']:.1f} ms), templates {row['template_render_ms_profiled']:.1f} ms (profiled)"
        )
    for name, plan in plans.items():
        timing = [line for line in plan["plan"] if line.startswith("Execution Time")]
        print(f"EXPLAIN {name}: {plan['plan'][0].strip()[:110]} ... {timing[0] if timing else ''}")
    others = max(row["cpu_cores"]["everything else"] for row in summary.values() if "cpu_cores" in row)
    if others > 0.2:
        print(f"WARNING: other work on the machine used up to {others:.2f} cores during the runs (median per run)")
    print(f"wrote {os.path.relpath(args.json, ROOT)} ({output['elapsed_seconds']:.0f} s in all)")


if __name__ == "__main__":
    main()
