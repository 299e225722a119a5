"""Categorizer benchmark: accuracy on labelled descriptors, throughput, memory.

    .venv/bin/python bench/categorizer.py [--lines 1000000] [--json var/bench/categorizer.json]

Builds a throwaway SQLite database with the seed map (as `migrate` gives every install),
then measures:
  - accuracy, parent- and leaf-level, on categories/eval/descriptors_{dev,test}.csv (the
    test set was written independently of the map and is never used to tune it);
  - throughput of normalisation + categorization in one process, over a realistic stream
    (descriptors repeat, as on real statements) and over all-unique descriptors (store
    numbers randomised, so no cache helps); median of 5 runs each;
  - memory held by the loaded categorizer.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT / "categories" / "eval"
RUNS = 5


def setup_django() -> None:
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="mint-bench-")
    os.environ.update(DEBUG="1", DJANGO_SETTINGS_MODULE="mint.settings")
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def read_labelled(name: str) -> list[dict[str, str]]:
    with (EVAL / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def accuracy(rows: list[dict[str, str]]) -> dict:
    from categories.categorizer import get_categorizer
    from categories.models import Category

    categorizer = get_categorizer()
    paths = dict(Category.objects.values_list("pk", "path"))
    leaf = parent = 0
    misses = []
    by_source: dict[str, int] = {}
    for row in rows:
        decision = categorizer.categorize(row["descriptor"], amount=Decimal(row["amount"]), mcc=row["mcc"])
        found = paths[decision.category_id]
        by_source[decision.source] = by_source.get(decision.source, 0) + 1
        leaf += found == row["category"]
        parent += found.split("/")[0] == row["category"].split("/")[0]
        if found != row["category"]:
            misses.append(
                {"descriptor": row["descriptor"], "expected": row["category"], "got": found, "source": decision.source}
            )
    return {
        "rows": len(rows),
        "parent_accuracy": round(parent / len(rows), 4),
        "leaf_accuracy": round(leaf / len(rows), 4),
        "by_source": dict(sorted(by_source.items())),
        "misses": misses,
    }


def _stream(lines: int, variation: str) -> list[tuple[str, Decimal, str]]:
    """Descriptors from the labelled sets and the demo bank, varied per line.

    "none": exact repeats; "digits": a new store number and reference on every line, as card
    feeds print them; "alphanumeric": a new reference with letters too (nothing repeats).
    """
    from accounts.demo_bank.persona import ACCOUNTS, Persona

    rng = random.Random(42)  # noqa: S311  (a reproducible sample, not a secret)
    base = [
        (row["descriptor"], Decimal(row["amount"]), row["mcc"])
        for name in ("descriptors_dev.csv", "descriptors_test.csv")
        for row in read_labelled(name)
    ]
    today = dt.date(2026, 11, 21)
    persona = Persona("bench")
    base += [
        (txn.name, txn.amount, f"{txn.sic:04d}" if txn.sic else "")
        for account in ACCOUNTS
        for txn in persona.transactions(account, today - dt.timedelta(days=120), today, today)
    ]
    stream = [rng.choice(base) for _ in range(lines)]
    if variation == "digits":
        return [(f"{d} #{rng.randrange(10**5):05d} {rng.randrange(10**12):012d}", a, m) for d, a, m in stream]
    if variation == "alphanumeric":
        return [(f"{d} #{n:07d} REF{rng.getrandbits(40):X}", a, m) for n, (d, a, m) in enumerate(stream)]
    return stream


def throughput(lines: int, variation: str) -> dict:
    from categories.categorizer import _key_for_tokens, categorizer_build
    from categories.normalize import tokens_cache_clear

    stream = _stream(lines, variation)
    rates = []
    for _ in range(RUNS):
        tokens_cache_clear()
        _key_for_tokens.cache_clear()
        categorizer = categorizer_build()  # every run starts with empty caches
        started = time.perf_counter()
        for descriptor, amount, mcc in stream:
            categorizer.categorize(descriptor, amount=amount, mcc=mcc)
        rates.append(len(stream) / (time.perf_counter() - started))
    return {
        "lines": len(stream),
        "runs": RUNS,
        "median_per_second": round(statistics.median(rates)),
        "all_per_second": [round(r) for r in rates],
    }


def memory() -> dict:
    """The loaded map, then the same categorizer once its caches are full (they are bounded)."""
    from categories.categorizer import DECISION_CACHE_SIZE, categorizer_build
    from categories.models import Merchant, MerchantAlias
    from categories.normalize import TOKEN_CACHE_SIZE, tokens_cache_clear

    tokens_cache_clear()
    fill = _stream(TOKEN_CACHE_SIZE + DECISION_CACHE_SIZE, "alphanumeric")
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    categorizer = categorizer_build()
    loaded = tracemalloc.take_snapshot()
    for descriptor, amount, mcc in fill:
        categorizer.categorize(descriptor, amount=amount, mcc=mcc)
    full = tracemalloc.take_snapshot()
    tracemalloc.stop()

    def megabytes(snapshot) -> float:
        return round(sum(stat.size_diff for stat in snapshot.compare_to(before, "filename")) / 1e6, 2)

    return {
        "merchants": Merchant.objects.count(),
        "aliases": MerchantAlias.objects.count(),
        "map_megabytes": megabytes(loaded),
        "with_full_caches_megabytes": megabytes(full),
        "cache_sizes": {"tokens": TOKEN_CACHE_SIZE, "decisions_per_kind": DECISION_CACHE_SIZE},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench" / "categorizer.json")
    parser.add_argument("--show-misses", choices=["dev", "test"], help="print the misclassified descriptors of a set")
    args = parser.parse_args()
    setup_django()
    accuracies = {name: accuracy(read_labelled(f"descriptors_{name}.csv")) for name in ("dev", "test")}
    throughputs = {
        "exact_repeats": throughput(args.lines, "none"),
        "new_store_numbers": throughput(args.lines, "digits"),
        "every_line_new": throughput(args.lines // 5, "alphanumeric"),
    }
    results = {"accuracy": accuracies, "throughput": throughputs, "memory": memory(), "python": sys.version.split()[0]}
    for name, result in accuracies.items():
        print(
            f"accuracy {name}: {result['rows']} descriptors, parent {result['parent_accuracy']:.1%}, "
            f"leaf {result['leaf_accuracy']:.1%}; decided by {result['by_source']}"
        )
    for name, result in throughputs.items():
        print(
            f"throughput {name}: median {result['median_per_second']:,} descriptors/s "
            f"over {result['lines']:,} lines, {RUNS} runs"
        )
    print(f"memory: {results['memory']}")
    if args.show_misses:
        for miss in accuracies[args.show_misses]["misses"]:
            print(f"  {miss['expected']:28} got {miss['got']:28} ({miss['source']:12}) {miss['descriptor']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
