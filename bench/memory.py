"""Memory benchmark: a process importing 1,000,000 transactions, and the categorizer with 50,000 merchants.

    .venv/bin/python bench/memory.py [--transactions 1000000] [--merchants 50000] [--quick]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth for `postgres`) and Redis on 127.0.0.1:6379.
The section in docs/PERFORMANCE.md explains the choices and holds the figures.

1. Database: `mint_bench_refresh_memory`, cloned on every run from
   `mint_bench_refresh_memory_template` (created when missing, migrated on every run), so the
   import always lands in an empty account and the merchant map starts as the seed's.
2. Import: N transactions as CSV statements (Date, Description, Amount; descriptors built from
   the seed map's aliases with store numbers; written once to var/bench/ and reused) imported
   by one child process, file after file, into one account through `file_import`: the checks,
   the object store, parsing, then the bulk ingestion path every upload of 1,000 lines or more
   takes; the same functions the upload views call inside a web worker (`import_transactions`
   is that function plus argument parsing). The product refuses a CSV file of more than
   100,000 rows (accounts/providers/csv_file.py MAX_ROWS; OFX stops near 40,000) and
   uploads over IMPORT_MAX_BYTES (10 MB), so a million transactions arrive as ten files of
   100,000 (4 MB each: under the byte limit, nothing overridden), as a user splitting a long
   history would send them. `--single-file` imports one file instead, with the row cap and the
   byte limit lifted in the child: what a single import that size would hold. Peak RSS is the
   child's ru_maxrss (os.wait4: that child alone), beside a bare `django.setup()` process and
   the same child importing 10 lines; VmRSS and VmHWM are printed after each file.
3. Categorizer: the seed map (12,412 merchants), then the map topped up to --merchants with
   synthetic merchants (letters only, so normalisation keeps them apart; 1.8 aliases each, the
   seed's ratio) inserted into categories_merchant and categories_merchantalias. For each,
   one child process measures VmRSS before and after `categorizer_build()` and another the
   bytes the build leaves allocated (tracemalloc), against the brief's 12 MB estimate.

Prints a table and writes var/bench/memory.json. `--runs` repeats the categorizer
measurements (medians reported); the import runs once (a million rows is minutes of work).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402  (the project root on sys.path first)
from bench.common import (  # noqa: E402
    check_bench_urls,
    clone_migrated_template,
    command_line,
    log,
    machine,
    setup_django,
)

VAR = common.VAR
USERNAME = "bench-memory"
BRIEF_MAP_ESTIMATE_MB = 12.0
ALIASES_PER_MERCHANT = 1.8  # the seed map: 22,628 aliases for 12,412 merchants
SYLLABLES = ("ka", "lo", "mi", "ru", "ve", "zo", "ta", "ne", "pi", "su", "do", "fa", "ge", "hu", "ji", "bo")
SUFFIXES = ("Market", "Cafe", "Supply", "Studio", "Outfitters", "Kitchen", "Hardware", "Salon", "Books", "Garage")
SHORT = {"Market": "MKT", "Supply": "SUPPLY CO", "Outfitters": "OUTFTRS", "Kitchen": "KTCHN", "Hardware": "HDWE"}

Row = dict[str, Any]


def bench_env(args: argparse.Namespace) -> dict[str, str]:
    return common.bench_env(args, VAR / "memory")


def prepare_database(database_url: str, env: dict[str, str]) -> float:
    """Migrate the template (created when missing), then clone it as the run's database. Seconds taken."""
    return clone_migrated_template(database_url, env, VAR / "memory")


def run_child(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child process, its own peak alone (wait4)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)  # noqa: S603
    output = child.stdout.read() if child.stdout is not None else ""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} failed (exit {child.returncode}):\n{output}")
    return seconds, usage.ru_maxrss / 1024, output  # ru_maxrss: KiB on Linux


# ---------------------------------------------------------------------------------------------
# Import


def statement_file(lines: int, part: int = 0, parts: int = 1) -> Path:
    """Part `part` of `parts` of a CSV statement (the parts cover two years, a slice each), written once."""
    path = VAR / f"memory-statement-{lines}-{part + 1}-of-{parts}.csv"
    if path.exists():
        return path
    rng = random.Random(f"bench-memory:{lines}:{part}")  # noqa: S311  (repeatable data, not secrets)
    with open(ROOT / "categories" / "data" / "merchants.csv", encoding="utf-8", newline="") as handle:
        aliases = [alias.upper() for row in csv.DictReader(handle) for alias in row["aliases"].split("|") if alias]
    days = 730 // parts
    end = dt.date(2026, 10, 31) - dt.timedelta(days=days * part)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Date", "Description", "Amount"])
        for _ in range(lines):
            day = end - dt.timedelta(days=rng.randrange(days))
            descriptor = f"{rng.choice(aliases)} #{rng.randrange(1, 9999):04d}"
            cents = -rng.randrange(100, 25_000) if rng.random() < 0.97 else rng.randrange(50_000, 400_000)
            writer.writerow([day.isoformat(), descriptor, f"{cents / 100:.2f}"])
    partial.rename(path)
    return path


# One process importing the files in turn through the service the upload views call, printing
# its resident and peak memory after each. With --single-file, the product's row cap is lifted.
IMPORT_DRIVER = """
import json, sys, time, django
django.setup()
if sys.argv[1] == "lift-cap":
    import accounts.providers.csv_file
    accounts.providers.csv_file.MAX_ROWS = 10**9
from mint.models import User
from transactions.services import file_import
def status(name):
    for line in open("/proc/self/status"):
        if line.startswith(name):
            return int(line.split()[1]) / 1024
user = User.objects.get(username=sys.argv[2])
for path in sys.argv[4:]:
    started = time.perf_counter()
    with open(path, "rb") as handle:
        raw = handle.read()
    result = file_import(user=user, account_name=sys.argv[3], raw=raw, filename=path.rsplit("/", 1)[-1])
    del raw
    print(json.dumps({"new": result.new, "existing": result.existing, "seconds": time.perf_counter() - started,
                      "rss": status("VmRSS:"), "hwm": status("VmHWM:")}), flush=True)
"""


def measure_import(args: argparse.Namespace, env: dict[str, str]) -> Row:
    from accounts.providers.csv_file import MAX_ROWS
    from mint.models import User
    from transactions.models import Transaction

    User.objects.create_user(username=USERNAME, password=None)

    def run(
        account: str, files: list[Path], child_env: dict[str, str], lift_cap: bool = False
    ) -> tuple[float, float, list[Row]]:
        command = [sys.executable, "-c", IMPORT_DRIVER, "lift-cap" if lift_cap else "-", USERNAME, account]
        seconds, peak, output = run_child([*command, *map(str, files)], child_env)
        return seconds, peak, [json.loads(line) for line in output.splitlines() if line.startswith("{")]

    # The same process on a 10-line file: what it holds before the rows count.
    _, small_peak, _ = run("Small", [statement_file(10)], env)
    if args.single_file:
        files = [statement_file(args.transactions)]
        size = files[0].stat().st_size
        child_env = {**env, "IMPORT_MAX_BYTES": str(size + 1)}
        how = f"one file, above the product's caps ({MAX_ROWS:,} rows, IMPORT_MAX_BYTES lifted for the child)"
    else:
        parts = -(-args.transactions // args.part_size)
        files = [statement_file(args.transactions // parts, part, parts) for part in range(parts)]
        child_env = env
        how = f"{parts} files of {args.transactions // parts:,} lines (the product takes at most {MAX_ROWS:,} a file)"
    size = sum(path.stat().st_size for path in files)
    log(f"importing {args.transactions:,} transactions ({size / 1e6:.1f} MB) in one process: {how}")
    seconds, peak, parts_done = run("Checking", files, child_env, lift_cap=args.single_file)
    stored = Transaction.objects.filter(account__name="Checking", user__username=USERNAME).count()
    return {
        "transactions": args.transactions,
        "how": how,
        "files": len(files),
        "file_megabytes": round(size / 1e6, 1),
        "stored": stored,
        "seconds": round(seconds, 1),
        "rows_per_second": round(stored / seconds),
        "peak_rss_megabytes": round(peak, 1),
        "ten_line_import_peak_rss_megabytes": round(small_peak, 1),
        "after_each_file": [
            {
                "new": part["new"],
                "existing": part["existing"],
                "seconds": round(part["seconds"], 1),
                "rss_megabytes": round(part["rss"], 1),
                "peak_so_far_megabytes": round(part["hwm"], 1),
            }
            for part in parts_done
        ],
    }


def measure_baseline(env: dict[str, str]) -> float:
    _, peak, _ = run_child([sys.executable, "-c", "import django; django.setup()"], env)
    return round(peak, 1)


# ---------------------------------------------------------------------------------------------
# Categorizer

CATEGORIZER_RSS = """
import json, django
django.setup()
from categories.categorizer import categorizer_build
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
before = rss()
categorizer = categorizer_build()
print(json.dumps({"before": before, "after": rss(), "aliases": len(categorizer._aliases)}))
"""

CATEGORIZER_TRACED = """
import gc, json, tracemalloc, django
django.setup()
from categories.categorizer import categorizer_build
categorizer_build()  # first: the imports and query machinery the build needs, not the map
gc.collect()
tracemalloc.start()
before = tracemalloc.get_traced_memory()[0]
categorizer = categorizer_build()
gc.collect()
print(json.dumps({"map_bytes": tracemalloc.get_traced_memory()[0] - before}))
"""


def _pseudo_word(index: int, syllables: int = 4) -> str:
    word = ""
    for _ in range(syllables):
        index, digit = divmod(index, len(SYLLABLES))
        word += SYLLABLES[digit]
    return word.capitalize()


def merchants_top_up(target: int) -> Row:
    """Insert synthetic merchants (and their aliases) until the map holds `target` merchants."""
    from categories.models import Category, Merchant, MerchantAlias
    from categories.normalize import alias_key, name_key

    existing = Merchant.objects.count()
    missing = max(0, target - existing)
    rng = random.Random("bench-memory-merchants")  # noqa: S311  (repeatable data, not secrets)
    leaves = list(
        Category.objects.filter(parent__isnull=False, kind=Category.Kind.SPENDING).values_list("pk", flat=True)
    )
    taken_names = {name.lower() for name in Merchant.objects.values_list("name", flat=True)}
    taken_keys = set(MerchantAlias.objects.values_list("key", flat=True))
    started = time.perf_counter()
    merchants: list[Merchant] = []
    alias_rows: list[list[str]] = []
    index = 0
    while len(merchants) < missing:
        word = _pseudo_word(index)
        suffix = SUFFIXES[index % len(SUFFIXES)]
        index += 1
        name = f"{word} {suffix}"
        if name.lower() in taken_names:
            continue
        taken_names.add(name.lower())
        merchant = Merchant(name=name, key=name_key(name), category_id=rng.choice(leaves))
        merchants.append(merchant)
        candidates = [name.upper()]
        if rng.random() < ALIASES_PER_MERCHANT - 1:
            candidates.append(f"{word.upper()} {SHORT.get(suffix, suffix.upper())} {rng.choice('NSEW')}")
        alias_rows.append(candidates)
    Merchant.objects.bulk_create(merchants, batch_size=5000)
    aliases = []
    for merchant, candidates in zip(merchants, alias_rows, strict=True):
        for candidate in candidates:
            key = alias_key(candidate)
            if key and key not in taken_keys:
                taken_keys.add(key)
                aliases.append(MerchantAlias(merchant=merchant, key=key))
    MerchantAlias.objects.bulk_create(aliases, batch_size=5000)
    seconds = time.perf_counter() - started
    log(f"merchant map: {missing:,} synthetic merchants, {len(aliases):,} aliases ({seconds:.1f} s)")
    return {"synthetic_merchants": missing, "synthetic_aliases": len(aliases)}


def measure_categorizer(env: dict[str, str], runs: int) -> Row:
    from categories.models import Merchant, MerchantAlias

    samples = []
    for _ in range(runs):
        _, _, output = run_child([sys.executable, "-c", CATEGORIZER_RSS], env)
        rss = json.loads(output.strip().splitlines()[-1])
        _, _, output = run_child([sys.executable, "-c", CATEGORIZER_TRACED], env)
        traced = json.loads(output.strip().splitlines()[-1])
        samples.append({**rss, **traced})
    return {
        "merchants": Merchant.objects.count(),
        "aliases": MerchantAlias.objects.count(),
        "aliases_in_map": samples[0]["aliases"],
        "rss_before_build_megabytes": round(statistics.median(s["before"] for s in samples), 1),
        "rss_after_build_megabytes": round(statistics.median(s["after"] for s in samples), 1),
        "rss_delta_megabytes": round(statistics.median(s["after"] - s["before"] for s in samples), 1),
        "map_megabytes_tracemalloc": round(statistics.median(s["map_bytes"] for s in samples) / 1e6, 1),
        "runs": samples,
    }


# ---------------------------------------------------------------------------------------------


def table(output: Row) -> str:
    imported, maps = output["import"], output["categorizer"]
    lines = [
        "| process | peak / resident MB | notes |",
        "|---|---|---|",
        f"| bare `django.setup()` | {output['baseline_peak_rss_megabytes']:.1f} | the floor of any Django process |",
        f"| importing {imported['transactions']:,} transactions | {imported['peak_rss_megabytes']:.1f} "
        f"| {imported['how']}; {imported['file_megabytes']} MB of CSV, {imported['seconds']:.0f} s, "
        f"{imported['rows_per_second']:,} rows/s |",
        f"| the same process importing 10 lines | {imported['ten_line_import_peak_rss_megabytes']:.1f} "
        "| before the rows count |",
    ]
    for row in maps:
        lines.append(
            f"| categorizer, {row['merchants']:,} merchants ({row['aliases']:,} aliases) "
            f"| {row['rss_after_build_megabytes']:.1f} | RSS +{row['rss_delta_megabytes']:.1f} MB on build; "
            f"map {row['map_megabytes_tracemalloc']:.1f} MB (tracemalloc; brief: {BRIEF_MAP_ESTIMATE_MB:.0f} MB "
            f"for 50,000) |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000, help="lines in the imported file")
    parser.add_argument("--merchants", type=int, default=50_000, help="merchants in the larger map")
    parser.add_argument("--runs", type=int, default=3, help="categorizer measurements; medians reported")
    parser.add_argument("--part-size", type=int, default=100_000, help="lines per file (the product's cap)")
    parser.add_argument("--single-file", action="store_true", help="one file, the product's row cap lifted")
    parser.add_argument("--quick", action="store_true", help="CI smoke size: 100,000 transactions in 2 files, 1 run")
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/mint_bench_refresh_memory",
        help="dropped and cloned from <name>_template on every run",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8", help="the cache")
    parser.add_argument("--json", type=Path, default=VAR / "memory.json")
    args = parser.parse_args()
    if args.quick:
        args.transactions, args.runs, args.part_size = 100_000, 1, 50_000
    check_bench_urls(parser, args.database_url, args.redis_url)
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    info = machine()
    env = bench_env(args)
    database_seconds = prepare_database(args.database_url, env)
    setup_django(env)
    baseline = measure_baseline(env)
    log(f"bare django.setup(): peak RSS {baseline:.1f} MB")
    imported = measure_import(args, env)
    log(f"import: peak RSS {imported['peak_rss_megabytes']:.1f} MB, {imported['seconds']:.0f} s")
    maps = [measure_categorizer(env, args.runs)]
    topped_up = merchants_top_up(args.merchants)
    maps.append({**measure_categorizer(env, args.runs), **topped_up})
    output = {
        "command": command_line(),
        "date": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        "machine": info,
        "database_seconds": round(database_seconds, 1),
        "baseline_peak_rss_megabytes": baseline,
        "import": imported,
        "categorizer": maps,
        "brief_map_estimate_megabytes": BRIEF_MAP_ESTIMATE_MB,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2, default=str))
    print()
    print(table(output))
    print()
    print(f"wrote {os.path.relpath(args.json, ROOT)} ({output['elapsed_seconds']:.0f} s in all)")


if __name__ == "__main__":
    main()
