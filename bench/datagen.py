"""Data generator: realistic synthetic users and their history, loaded through the bulk ingestion path.

    .venv/bin/python bench/datagen.py [--users 100000] [--transactions 10000000] [--batch-users 200]

Each user gets three accounts (checking, credit card, savings) and a history of about
`--transactions / --users` lines, ending today, spread over as many months as that makes at
roughly 35 lines a month:
  - purchases on the card (about two thirds) and the debit card, at merchants drawn from the
    curated map (categories/data/merchants.csv, the same file `migrate` seeds), weighted by how
    often people buy in each category, written the way card feeds print them: store numbers,
    cities and states, processor prefixes (SQ *, TST*, POS PURCHASE), reference codes;
  - refunds: about 3 % of purchases come back a few days later as money in at the same merchant;
  - income: payroll twice a month into checking, interest monthly into savings;
  - transfers between the user's own accounts: the monthly card payment (out of checking, into
    the card) and a monthly move to savings, both sides;
  - rent out of checking every month.
Everything is seeded (`--seed`): the same arguments give the same lines, and the same external
ids, so running it twice inserts nothing the second time (the bulk path deduplicates).

Users and accounts are written with bulk_create; transactions with
transactions.bulk.statements_ingest_bulk, `--batch-users` users per database transaction, by
`--workers` forked processes (2 by default: while one waits for PostgreSQL the other generates
and categorizes), into a dedicated database (`mint_bench_data`, created and migrated when missing). Progress goes to
stderr as one updating line. Prints a summary and writes var/bench/datagen.json.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402  (the project root on sys.path first)
from bench.common import log_stderr as log  # noqa: E402

VAR = common.VAR
MERCHANTS_CSV = ROOT / "categories" / "data" / "merchants.csv"
USERNAME_PREFIX = "gen-"
LINES_PER_MONTH = 35

if TYPE_CHECKING:
    from accounts.providers.base import StatementLine

# How often people buy in each kind of shop (relative), and what a purchase there costs.
PURCHASE_MIX: dict[str, tuple[float, float, float]] = {
    # parent category: (weight, low, high) in dollars
    "food": (40, 4, 140),
    "transport": (10, 8, 90),
    "shopping": (18, 6, 260),
    "entertainment": (6, 5, 80),
    "health": (5, 8, 150),
    "bills": (4, 20, 180),
    "personal": (3, 12, 120),
    "travel": (2, 60, 900),
    "home": (2, 15, 400),
    "housing": (1, 20, 400),
    "pets": (2, 10, 120),
    "gifts": (2, 10, 150),
    "education": (1, 20, 300),
}
NOT_PURCHASES = {"income", "transfer", "fees", "taxes", "other"}
CITIES = [
    ("SEATTLE", "WA"), ("AUSTIN", "TX"), ("BROOKLYN", "NY"), ("OAKLAND", "CA"), ("CHICAGO", "IL"),
    ("DENVER", "CO"), ("ATLANTA", "GA"), ("BOSTON", "MA"), ("PHOENIX", "AZ"), ("PORTLAND", "OR"),
    ("MIAMI", "FL"), ("COLUMBUS", "OH"), ("RALEIGH", "NC"), ("MINNEAPOLIS", "MN"), ("SAN DIEGO", "CA"),
]  # fmt: skip
EMPLOYERS = ["ACME CORP", "GLOBEX INC", "INITECH LLC", "UMBRELLA HEALTH", "STARK INDUSTRIES", "HOOLI", "VANDELAY"]
BANKS = ["CHASE", "CITI", "CAPITAL ONE", "DISCOVER", "AMEX", "WELLS FARGO"]
REFUND_SHARE = 0.03
CARD_SHARE = 0.65
REF_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Merchant:
    alias: str
    low: float
    high: float


@dataclass(frozen=True)
class UserHistory:
    """One user's lines per account kind ("checking", "credit-card", "savings")."""

    index: int
    lines: dict[str, list[StatementLine]]


def merchants() -> tuple[list[Merchant], list[float]]:
    """The curated map's purchase merchants, each with the weight of its category's share."""
    by_parent: dict[str, list[Merchant]] = {}
    with MERCHANTS_CSV.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            parent = row["category"].split("/")[0]
            if parent in NOT_PURCHASES or "," in row["aliases"] or '"' in row["aliases"]:
                continue
            _, low, high = PURCHASE_MIX.get(parent, (1, 5, 100))
            alias = row["aliases"].split("|")[0] or row["name"].upper()
            by_parent.setdefault(parent, []).append(Merchant(alias, low, high))
    pool: list[Merchant] = []
    weights: list[float] = []
    for parent, found in by_parent.items():
        share = PURCHASE_MIX.get(parent, (1, 0, 0))[0] / len(found)
        pool += found
        weights += [share] * len(found)
    return pool, weights


class Generator:
    """Deterministic synthetic histories: user `index` always gets the same lines."""

    def __init__(self, *, seed: int, today: dt.date) -> None:
        self.seed = seed
        self.today = today
        self.pool, weights = merchants()
        total = sum(weights)
        # Cumulative weights once, so each draw is one bisect.
        self.cumulative = []
        running = 0.0
        for weight in weights:
            running += weight / total
            self.cumulative.append(running)

    def user(self, index: int, count: int) -> UserHistory:
        from accounts.providers.base import StatementLine

        rng = random.Random(self.seed * 1_000_003 + index)  # noqa: S311  (synthetic data, not secrets)
        months = max(1, min(24, round(count / LINES_PER_MONTH)))
        start = self.today - dt.timedelta(days=30 * months)
        employer = rng.choice(EMPLOYERS)
        bank = rng.choice(BANKS)
        card_last4, savings_last4 = f"{rng.randint(0, 9999):04d}", f"{rng.randint(0, 9999):04d}"
        home_city, home_state = rng.choice(CITIES)
        pay = rng.randint(1400, 5200)
        rent = rng.randint(900, 2800)
        # (day, kind, amount in cents, descriptor)
        events: list[tuple[dt.date, str, int, str]] = []
        month_starts = [start + dt.timedelta(days=30 * n) for n in range(months)]
        for first in month_starts:
            events.append((first + dt.timedelta(days=1), "checking", rent * -100, f"ZELLE RENT PAYMENT {home_city}"))
            for payday in (first + dt.timedelta(days=14), first + dt.timedelta(days=28)):
                ppd = rng.randint(10**9, 10**10 - 1)
                events.append((payday, "checking", pay * 100, f"{employer} PAYROLL PPD ID: {ppd}"))
            paid = rng.randint(200, 2500) * 100
            day = first + dt.timedelta(days=20)
            events.append((day, "checking", -paid, f"PAYMENT TO {bank} CARD ENDING IN {card_last4}"))
            events.append((day, "credit-card", paid, "ONLINE PAYMENT THANK YOU"))
            saved = rng.randint(50, 800) * 100
            day = first + dt.timedelta(days=15)
            events.append((day, "checking", -saved, f"ONLINE TRANSFER TO SAV ...{savings_last4}"))
            events.append((day, "savings", saved, f"ONLINE TRANSFER FROM CHK ...{card_last4}"))
            events.append((first + dt.timedelta(days=27), "savings", rng.randint(5, 900), "INTEREST PAYMENT"))
        purchases = max(0, count - len(events))
        days = max(1, (self.today - start).days)
        for _ in range(purchases):
            merchant = self.pool[self._pick(rng.random())]
            day = start + dt.timedelta(days=rng.randrange(days))
            cents = int(rng.uniform(merchant.low, merchant.high) * 100) or 100
            account = "credit-card" if rng.random() < CARD_SHARE else "checking"
            descriptor = self._descriptor(rng, merchant.alias, day, home_city, home_state)
            events.append((day, account, -cents, descriptor))
            if rng.random() < REFUND_SHARE:
                back = min(self.today, day + dt.timedelta(days=rng.randint(2, 12)))
                events.append((back, account, cents, descriptor))
        if len(events) > count:  # a very short history: keep a sample, in date order below
            events = rng.sample(events, count)
        events.sort(key=lambda event: event[0])
        lines: dict[str, list[StatementLine]] = {"checking": [], "credit-card": [], "savings": []}
        for day, account, cents, descriptor in events:
            sequence = len(lines[account])
            lines[account].append(
                StatementLine(
                    external_id=f"{index}{account[0]}{sequence:06d}",  # FITID-like: unique per account
                    posted_on=min(day, self.today),
                    amount=Decimal(cents).scaleb(-2),
                    description=descriptor,
                )
            )
        return UserHistory(index, lines)

    def _pick(self, point: float) -> int:
        from bisect import bisect_left

        return min(bisect_left(self.cumulative, point), len(self.pool) - 1)

    @staticmethod
    def _descriptor(rng: random.Random, alias: str, day: dt.date, city: str, state: str) -> str:
        if rng.random() < 0.2:
            city, state = rng.choice(CITIES)
        shape = rng.random()
        store = rng.randint(1, 99999)
        if shape < 0.30:
            return f"{alias} #{store:05d} {city} {state}"
        if shape < 0.42:
            return f"SQ *{alias} {city} {state}"
        if shape < 0.50:
            return f"TST* {alias} {store}"
        if shape < 0.62:
            return f"POS PURCHASE {alias} {store:05d} {city} {state}"
        if shape < 0.75:
            ref = "".join(rng.choice(REF_CHARS) for _ in range(9))
            return f"{alias}*{ref}"
        if shape < 0.85:
            return f"DEBIT CARD PURCHASE {day:%m/%d} {alias} {city} {state}"
        return alias


def counts(users: int, transactions: int) -> Iterator[int]:
    """Lines per user, summing to `transactions` exactly."""
    base, extra = divmod(transactions, users)
    for index in range(users):
        yield base + (1 if index < extra else 0)


# ---------------------------------------------------------------------------------------------
# Database and Django


def ensure_database(database_url: str, *, drop: bool = False) -> None:
    """Create the database when missing (dropped first with `drop`)."""
    common.ensure_database(database_url, drop=drop, report=log)


def setup_django(database_url: str, redis_url: str) -> None:
    """Production settings (DEBUG off, so Django keeps no query log) on the bench database and Redis."""
    from cryptography.fernet import Fernet

    for name in list(os.environ):
        if name.startswith("DJANGO_"):
            del os.environ[name]
    os.environ.update(
        DJANGO_SETTINGS_MODULE="mint.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEBUG="0",
        DEMO_MODE="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        CREDENTIALS_KEYS=Fernet.generate_key().decode(),
        CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
        VAR_DIR=str(VAR / "datagen"),
    )
    import django

    django.setup()
    common.migrate(report=log)


def users_ensure(count: int, prefix: str = USERNAME_PREFIX) -> list[tuple[int, dict[str, Any]]]:
    """`count` generated users, index order, each with its three accounts: [(user id, {kind: Account})].

    Created with bulk_create where missing (an unusable password: nobody logs in as them).
    """
    from accounts.models import Account
    from mint.models import User

    names = [f"{prefix}{index:07d}" for index in range(count)]
    known = dict(User.objects.filter(username__startswith=prefix).values_list("username", "pk"))
    missing = [name for name in names if name not in known]
    for start in range(0, len(missing), 5000):
        User.objects.bulk_create(
            [
                # "!": an unusable password (make_password's own marker); nobody logs in as them.
                User(username=name, email=f"{name}@example.com", password="!")  # noqa: S106
                for name in missing[start : start + 5000]
            ]
        )
    ids = dict(User.objects.filter(username__startswith=prefix).values_list("username", "pk"))
    user_ids = [ids[name] for name in names]
    accounts: dict[int, dict[str, Account]] = {}
    for account in Account.objects.filter(user_id__in=user_ids, connection__isnull=True):
        accounts.setdefault(account.user_id, {})[account.kind] = account
    kinds = {"checking": "Checking", "credit-card": "Credit card", "savings": "Savings"}
    new = [
        Account(user_id=user_id, name=name, kind=kind, currency="USD")
        for user_id in user_ids
        for kind, name in kinds.items()
        if kind not in accounts.get(user_id, {})
    ]
    for start in range(0, len(new), 10000):
        for account in Account.objects.bulk_create(new[start : start + 10000]):
            accounts.setdefault(account.user_id, {})[account.kind] = account
    return [(user_id, accounts[user_id]) for user_id in user_ids]


class Progress:
    """One stderr line, rewritten at most 5 times a second: done/total, rate, time left."""

    def __init__(self, total: int, unit: str) -> None:
        self.total, self.unit, self.done = total, unit, 0
        self.started = self.shown = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def add(self, count: int) -> None:
        self.done += count
        now = time.perf_counter()
        if now - self.shown >= (0.2 if self.tty else 10) or self.done >= self.total:
            self.shown = now
            elapsed = now - self.started
            rate = self.done / elapsed if elapsed else 0.0
            left = (self.total - self.done) / rate if rate else 0.0
            filled = int(30 * self.done / self.total) if self.total else 30
            bar = "#" * filled + "." * (30 - filled)
            text = (
                f"[{bar}] {self.done / max(self.total, 1):4.0%} {self.done:,}/{self.total:,} {self.unit} "
                f"{rate:,.0f}/s elapsed {elapsed:,.0f} s left {left:,.0f} s"
            )
            print(("\r" if self.tty else "") + text, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr, flush=True)


def statements_for(history: UserHistory, accounts: dict[str, Any]) -> list[tuple[Any, Any]]:
    from accounts.providers.base import AccountRef, Statement

    return [
        (accounts[kind], Statement(AccountRef(accounts[kind].external_id, kind), "USD", tuple(lines)))
        for kind, lines in history.lines.items()
        if lines
    ]


def load_batches(
    args: argparse.Namespace,
    users: list[tuple[int, dict[str, Any]]],
    per_user: list[int],
    starts: Sequence[int],
    report: Callable[[int], None],
) -> dict[str, float]:
    """Generate and ingest the batches starting at `starts`; `report` gets each batch's line count."""
    from transactions.bulk import statements_ingest_bulk

    generator = Generator(seed=args.seed, today=dt.date.fromisoformat(args.today))
    totals = {"new": 0.0, "existing": 0.0, "generating": 0.0, "ingesting": 0.0}
    for start in starts:
        tick = time.perf_counter()
        batch: dict[int, Sequence[tuple[Any, Any]]] = {}
        lines = 0
        for index in range(start, min(start + args.batch_users, len(users))):
            user_id, accounts = users[index]
            batch[user_id] = statements_for(generator.user(index, per_user[index]), accounts)
            lines += per_user[index]
        tock = time.perf_counter()
        # A backfill: the users' cached months are dropped after each commit, not refilled.
        results = statements_ingest_bulk(batch=batch, refresh_cache=False)
        totals["ingesting"] += time.perf_counter() - tock
        totals["generating"] += tock - tick
        totals["new"] += sum(result.new for result in results.values())
        totals["existing"] += sum(result.existing for result in results.values())
        report(lines)
    return totals


def _worker(args: argparse.Namespace, users: list, per_user: list[int], starts: list[int], queue: Any) -> None:
    """One forked process: its own database connection, its share of the batches."""
    totals = load_batches(args, users, per_user, starts, lambda lines: queue.put(("lines", lines)))
    queue.put(("done", totals))


def generate(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection, connections

    started = time.perf_counter()
    users = users_ensure(args.users)
    users_seconds = time.perf_counter() - started
    log(f"{len(users):,} users with 3 accounts each ready ({users_seconds:.1f} s)")
    per_user = list(counts(args.users, args.transactions))
    progress = Progress(args.transactions, "transactions")
    starts = list(range(0, len(users), args.batch_users))
    if args.workers == 1:
        totals = load_batches(args, users, per_user, starts, progress.add)
    else:
        # Batches dealt round-robin to forked processes, each with its own connection (closed
        # here first, so no child shares the parent's socket). Different users never wait for
        # each other's locks; shared merchant keys are upserted in key order, so no deadlock.
        import multiprocessing

        connections.close_all()
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        workers = [
            context.Process(target=_worker, args=(args, users, per_user, starts[number :: args.workers], queue))
            for number in range(args.workers)
        ]
        for worker in workers:
            worker.start()
        totals = {"new": 0.0, "existing": 0.0, "generating": 0.0, "ingesting": 0.0}
        running = len(workers)
        while running:
            kind, value = queue.get()
            if kind == "lines":
                progress.add(value)
            else:
                running -= 1
                totals = {key: totals[key] + value[key] for key in totals}
        for worker in workers:
            worker.join()
            if worker.exitcode:
                raise SystemExit(f"a worker failed (exit code {worker.exitcode})")
    progress.close()
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM transactions_transaction")
        (stored,) = cursor.fetchone()
    return {
        "users": args.users,
        "transactions_requested": args.transactions,
        "workers": args.workers,
        "inserted": int(totals["new"]),
        "already_there": int(totals["existing"]),
        "rows_in_table": stored,
        "seconds": {
            "total": round(elapsed, 1),
            "users_and_accounts": round(users_seconds, 1),
            # Summed over the workers: more than the wall time when there are several.
            "generating_lines": round(totals["generating"], 1),
            "bulk_ingestion": round(totals["ingesting"], 1),
        },
        "transactions_per_second": round(args.transactions / elapsed),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--batch-users", type=int, default=200, help="users per database transaction")
    parser.add_argument("--workers", type=int, default=2, help="processes loading batches side by side")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--today", default=dt.date.today().isoformat(), help="the last day of history")  # noqa: DTZ011
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mint_bench_data")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="the bench's own Redis database")
    parser.add_argument("--drop", action="store_true", help="drop the database first and start empty")
    parser.add_argument("--json", type=Path, default=VAR / "datagen.json")
    args = parser.parse_args()
    if "bench" not in urlsplit(args.database_url).path and "ingest" not in urlsplit(args.database_url).path:
        parser.error("--database-url must name a database for the benchmark (its name containing 'bench')")
    if args.users < 1 or args.transactions < 0 or args.workers < 1:
        parser.error("--users and --workers must be at least 1 and --transactions not negative")
    return args


def main() -> None:
    args = parse_args()
    ensure_database(args.database_url, drop=args.drop)
    setup_django(args.database_url, args.redis_url)
    summary = generate(args)
    output = {
        "command": common.command_line(),
        "date": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        **summary,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2))
    seconds = summary["seconds"]
    print(
        f"{summary['inserted']:,} transactions inserted ({summary['already_there']:,} already there) for "
        f"{args.users:,} users in {seconds['total']:,} s: {summary['transactions_per_second']:,}/s "
        f"(users and accounts {seconds['users_and_accounts']} s, generating {seconds['generating_lines']} s, "
        f"bulk ingestion {seconds['bulk_ingestion']} s); wrote {os.path.relpath(args.json, ROOT)}"
    )


if __name__ == "__main__":
    main()
