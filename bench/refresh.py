"""Daily refresh benchmark: N demo-bank connections refreshed through the real OFX path and a django-q2 cluster.

    .venv/bin/python bench/refresh.py [--connections 500] [--workers 2] [--runs 3] [--quick]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth for `postgres`) and Redis on 127.0.0.1:6379.
The section in docs/PERFORMANCE.md explains the choices and holds the figures.

1. Database: `mint_bench_refresh`, cloned on every run from `mint_bench_refresh_template`
   (created when missing and migrated on every run), so each run starts from the seed map
   and nothing else.
2. The demo bank (`manage.py demo_bank`, the OFX Direct Connect server `make run` uses) as a
   subprocess, so its CPU is measured apart from the workers'. DEMO_MODE=1 only because the
   product refuses http:// and loopback bank URLs otherwise; DEBUG stays off.
3. Linking: every user is linked through the real service (`connection_create`: account
   discovery over OFX, credentials encrypted, the first sync queued), about 10 ms each here.
   For sizes where that is too slow, `--sample K` links K that way and gives the rest the same
   rows through a bulk path (connections with credentials encrypted by the same function, the
   accounts discovery returned for the sample) and queues their first sync with the real
   `sync_job_request`. The first syncs (`--history-days` of history) run on the cluster while
   linking goes on, and are reported as the initial pass.
4. Each run: every connection is set back to "last synced k+1 days ago" (run k), so the
   refresh fetches the overlap window (SYNC_OVERLAP_DAYS) plus one day nobody imported yet,
   as a daily refresh does; then `daily_refresh_enqueue` is called as the schedule calls it,
   with SYNC_DAILY_WINDOW_MINUTES=10 (one slot: every connection is due at once, instead of
   a 1/24 share per tick), and the clock runs until no job is queued or running.
5. The cluster: `manage.py qcluster` with production settings on the bench database: the
   ORM broker (Q_CLUSTER["orm"] in mint/settings.py: the product queues tasks in PostgreSQL;
   Redis is only its cache) and TASK_WORKERS=--workers. It runs through all passes.

Reported per pass: connections and accounts per minute (from the enqueue call to the last
job's finish), per-job latency (queued to finished, and started to finished) p50/p95, rows
new and already known, failed jobs (must be 0), and the cores used by the cluster, by the
PostgreSQL backends of the bench database, by the demo bank and by this script. The median
of the runs, and a projection to 30 M linked accounts, are printed; everything goes to
var/bench/refresh.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402  (the project root on sys.path first)
from bench.common import (  # noqa: E402
    MANAGE,
    check_bench_urls,
    clone_migrated_template,
    command_line,
    free_port,
    log,
    machine,
    machine_cpu_ticks,
    process_commands,
    setup_django,
)

VAR = common.VAR

USERNAME_PREFIX = "bench-refresh-"
TARGET_ACCOUNTS = 30_000_000
ASSUMED_BANK_SECONDS = 2.0  # a real bank's answer to one OFX request (the demo bank: milliseconds)

Row = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Environment and database


def bench_env(args: argparse.Namespace) -> dict[str, str]:
    """Production settings (DEBUG off) on the bench database and Redis database, for every process."""
    return common.bench_env(
        args,
        VAR / "refresh",
        # Only so the bank URL may be http:// on loopback (accounts/providers/http.py).
        DEMO_MODE="1",
        TASK_WORKERS=str(args.workers),
        # One slot: the whole daily pass is due at the first tick (see daily_refresh_enqueue).
        SYNC_DAILY_WINDOW_MINUTES="10",
    )


def prepare_database(database_url: str, env: dict[str, str]) -> float:
    """Migrate the template (created when missing), then clone it as the run's database. Seconds taken."""
    return clone_migrated_template(database_url, env, VAR / "refresh")


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"nothing listens on port {port} after {timeout:.0f} s")


# ---------------------------------------------------------------------------------------------
# Processes


class Child:
    """A subprocess in its own process group, so stopping it reaches all its processes."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log_path = VAR / f"refresh-{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603  (our own manage.py)
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, process_group=0
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        if self.process.poll() is not None:
            sys.exit(f"the {self.name} stopped (exit {self.process.returncode}); see {self.log_path}")

    def stop(self, grace: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # stragglers: the cluster's worker processes
        self.process.wait()
        self._log.close()


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = {pid}, [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


class CpuSampler:
    """CPU seconds used between two snapshots, by who used them: the cluster (qcluster and its
    processes), the PostgreSQL backends of the bench database, the demo bank, this script, and
    everything else on the machine (other work competes for the same cores)."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, cluster: Child, bank: Child, database: str) -> None:
        self.cluster = cluster
        self.bank = bank
        self.database = database

    @staticmethod
    def _ticks(pid: int, reaped: bool = False) -> int:
        """utime + stime; with `reaped`, also those of the children the process has waited for."""
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        return int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)

    def _groups(self) -> dict[str, set[int]]:
        groups: dict[str, set[int]] = {
            "cluster": descendants(self.cluster.pid),
            "postgres": set(),
            "demo bank": descendants(self.bank.pid),
        }
        for pid, command in process_commands():
            if command.startswith("postgres: ") and f" {self.database} " in command:
                groups["postgres"].add(pid)
        return groups

    def snapshot(self) -> Row:
        own = os.times()
        groups = self._groups()
        # django-q2 replaces a worker after `recycle` tasks: its time moves to the process that
        # reaps it, inside the tree, so the cluster is measured as a whole tree's total.
        cluster = sum(self._ticks(pid, reaped=True) for pid in groups.pop("cluster"))
        return {
            "at": time.monotonic(),
            "cluster": cluster,
            "ticks": {name: {pid: self._ticks(pid) for pid in pids} for name, pids in groups.items()},
            "script": own.user + own.system,
            "machine": machine_cpu_ticks(),
        }

    def used(self, start: Row, end: Row) -> Row:
        """CPU seconds by group. A PostgreSQL backend that ended between the snapshots is missed (a
        recycled worker's connection): PostgreSQL's figure is a slight undercount."""
        seconds: Row = {"cluster": (end["cluster"] - start["cluster"]) / self.TICK}
        for name, pids in end["ticks"].items():
            ticks = sum(value - start["ticks"].get(name, {}).get(pid, 0) for pid, value in pids.items())
            seconds[name] = ticks / self.TICK
        seconds["this script"] = end["script"] - start["script"]
        busy = (end["machine"][0] - start["machine"][0]) / max(end["machine"][1] - start["machine"][1], 1)
        seconds["machine"] = busy * (os.cpu_count() or 1) * (end["at"] - start["at"])
        seconds["everything else"] = max(seconds["machine"] - sum(seconds[name] for name in list(seconds)[:-1]), 0.0)
        return {name: round(value, 2) for name, value in seconds.items()}


# ---------------------------------------------------------------------------------------------
# Linking


def link_connections(args: argparse.Namespace, bank_url: str) -> Row:
    """`--sample` users through connection_create, the rest through the bulk path; first syncs queued."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from accounts import services
    from accounts.credentials import BankCredentials, credentials_encrypt
    from accounts.demo_bank.persona import PASSWORD
    from accounts.models import Account, Connection, SyncJob
    from mint.models import User

    today = timezone.localdate()
    password = make_password(None)  # unusable: nobody logs in as a bench user
    names = [f"{USERNAME_PREFIX}{index:07d}" for index in range(args.connections)]
    users = User.objects.bulk_create(
        [User(username=name, password=password, last_active_on=today) for name in names], batch_size=2000
    )
    started = time.perf_counter()
    sample = min(args.sample, args.connections)
    for user in users[:sample]:
        services.connection_create(
            user=user, url=bank_url, login=user.username, password=PASSWORD, history_days=args.history_days
        )
    service_seconds = time.perf_counter() - started
    template = Connection.objects.filter(user=users[0]).get()
    template_accounts = list(Account.objects.filter(connection=template).order_by("pk"))
    started = time.perf_counter()
    fields = (
        "provider",
        "url",
        "ofx_org",
        "ofx_fid",
        "bank_id",
        "ofx_version",
        "app_id",
        "app_version",
        "history_from",
    )
    rest = users[sample:]
    for first in range(0, len(rest), 1000):
        chunk = rest[first : first + 1000]
        with transaction.atomic():
            connections = Connection.objects.bulk_create(
                [
                    Connection(
                        user=user,
                        encrypted_credentials=credentials_encrypt(
                            BankCredentials(login=user.username, password=PASSWORD)
                        ),
                        **{field: getattr(template, field) for field in fields},
                    )
                    for user in chunk
                ]
            )
            Account.objects.bulk_create(
                [
                    Account(
                        user=connection.user,
                        connection=connection,
                        name=account.name,
                        kind=account.kind,
                        external_id=account.external_id,
                        external_type=account.external_type,
                        bank_id=account.bank_id,
                        currency=account.currency,
                    )
                    for connection in connections
                    for account in template_accounts
                ]
            )
            for connection in connections:
                services.sync_job_request(connection=connection, trigger=SyncJob.Trigger.LINK)
    bulk_seconds = time.perf_counter() - started
    linked = {
        "connections": Connection.objects.count(),
        "accounts": Account.objects.count(),
        "through_connection_create": sample,
        "through_bulk_path": len(rest),
        "connection_create_seconds_each": round(service_seconds / max(sample, 1), 4),
        "bulk_path_seconds_each": round(bulk_seconds / max(len(rest), 1), 5),
    }
    log(
        f"linked {linked['connections']:,} connections ({linked['accounts']:,} accounts): {sample} through "
        f"connection_create ({service_seconds:.1f} s), {len(rest):,} through the bulk path ({bulk_seconds:.1f} s)"
    )
    return linked


# ---------------------------------------------------------------------------------------------
# Passes


def cluster_ready(cluster: Child, timeout: float = 60.0) -> float:
    """Seconds until the cluster has run a trivial task (it is then polling the queue)."""
    from django_q.tasks import async_task, result

    started = time.perf_counter()
    task_id = async_task("math.floor", 1.5)
    deadline = time.monotonic() + timeout
    while result(task_id) is None:
        cluster.check()
        if time.monotonic() > deadline:
            sys.exit(f"the cluster ran no task within {timeout:.0f} s; see {cluster.log_path}")
        time.sleep(0.1)
    return time.perf_counter() - started


def wait_jobs(trigger: str, since: dt.datetime, expected: int, cluster: Child, timeout: float) -> None:
    from accounts.models import SyncJob

    jobs = SyncJob.objects.filter(trigger=trigger, created_at__gte=since)
    deadline = time.monotonic() + timeout
    while True:
        cluster.check()
        in_flight = jobs.filter(status__in=SyncJob.IN_FLIGHT).count()
        if in_flight == 0 and jobs.count() >= expected:
            return
        if jobs.filter(next_try_at__isnull=False, status=SyncJob.Status.QUEUED).exists():
            sys.exit("a sync job is waiting for a retry (the bank could not be reached): see the job messages")
        if time.monotonic() > deadline:
            sys.exit(f"{in_flight} {trigger} jobs still queued or running after {timeout:.0f} s")
        time.sleep(0.2)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def pass_figures(trigger: str, since: dt.datetime, enqueue_seconds: float, cpu: Row) -> Row:
    from django.db.models import Count, Max, Min, Sum

    from accounts.models import Account, SyncJob

    jobs = SyncJob.objects.filter(trigger=trigger, created_at__gte=since)
    rows = list(jobs.values_list("created_at", "started_at", "finished_at", "status"))
    done = [
        (created, started, finished)
        for created, started, finished, status in rows
        if status == SyncJob.Status.DONE and started is not None and finished is not None
    ]
    totals = jobs.aggregate(
        new=Sum("rows_new"), existing=Sum("rows_existing"), first=Min("created_at"), last=Max("finished_at")
    )
    # From the enqueue call to the last finish: enqueueing is part of a pass.
    elapsed = (totals["last"] - since).total_seconds()
    queued_to_done = [(finished - created).total_seconds() for created, _, finished in done]
    running = [(finished - started).total_seconds() for _, started, finished in done]
    connections = len(rows)
    accounts = Account.objects.filter(connection__sync_jobs__in=jobs).aggregate(n=Count("pk", distinct=True))["n"]
    failures = {
        status: count
        for status, count in jobs.exclude(status=SyncJob.Status.DONE).values_list("status").annotate(n=Count("pk"))
    }
    return {
        "connections": connections,
        "accounts": accounts,
        "seconds": round(elapsed, 2),
        "enqueue_seconds": round(enqueue_seconds, 2),
        "connections_per_minute": round(connections / elapsed * 60, 1),
        "accounts_per_minute": round(accounts / elapsed * 60, 1),
        "queued_to_done_p50_s": round(percentile(queued_to_done, 0.5) or 0, 3),
        "queued_to_done_p95_s": round(percentile(queued_to_done, 0.95) or 0, 3),
        "run_p50_s": round(percentile(running, 0.5) or 0, 3),
        "run_p95_s": round(percentile(running, 0.95) or 0, 3),
        "run_mean_s": round(statistics.fmean(running), 3) if running else 0.0,
        "rows_new": totals["new"] or 0,
        "rows_existing": totals["existing"] or 0,
        "failed": connections - len(done),
        "failures_by_status": failures,
        "cpu_seconds": cpu,
        "cores": {name: round(value / elapsed, 2) for name, value in cpu.items()},
    }


def initial_pass(
    cluster: Child, sampler: CpuSampler, start: Row, since: dt.datetime, expected: int, timeout: float
) -> Row:
    """The first syncs the linking queued (running while linking goes on); `start`: taken before linking."""
    from accounts.models import SyncJob

    wait_jobs(SyncJob.Trigger.LINK, since, expected, cluster, timeout)
    return pass_figures(SyncJob.Trigger.LINK, since, 0.0, sampler.used(start, sampler.snapshot()))


def daily_pass(run: int, cluster: Child, sampler: CpuSampler, expected: int, timeout: float) -> Row:
    from django.utils import timezone

    from accounts.models import Connection, SyncJob
    from accounts.services import daily_refresh_enqueue

    # Synced run+1 days ago: the refresh fetches SYNC_OVERLAP_DAYS already imported and one day
    # nobody imported yet (each run reaches one day further back), as a daily refresh does.
    Connection.objects.update(daily_refresh_on=None, last_synced_at=timezone.now() - dt.timedelta(days=run + 1))
    time.sleep(1.0)  # created_at of this pass's jobs is after `since`, and the cluster is idle
    start = sampler.snapshot()
    since = timezone.now()
    started = time.perf_counter()
    queued = daily_refresh_enqueue(now=since)
    enqueue_seconds = time.perf_counter() - started
    if queued != expected:
        sys.exit(f"daily_refresh_enqueue queued {queued} connections, expected {expected}")
    wait_jobs(SyncJob.Trigger.DAILY, since, expected, cluster, timeout)
    return pass_figures(SyncJob.Trigger.DAILY, since, enqueue_seconds, sampler.used(start, sampler.snapshot()))


# ---------------------------------------------------------------------------------------------
# Summary and projection


def median_of(runs: list[Row]) -> Row:
    keys = [key for key, value in runs[0].items() if isinstance(value, int | float)]
    summary: Row = {key: statistics.median(run[key] for run in runs) for key in keys}
    for group in ("cpu_seconds", "cores"):
        summary[group] = {name: statistics.median(run[group][name] for run in runs) for name in runs[0][group]}
    summary["failed"] = sum(run["failed"] for run in runs)
    return summary


def production_window_minutes(env: dict[str, str]) -> int:
    """SYNC_DAILY_WINDOW_MINUTES as production reads it (this script overrides it for its own processes)."""
    env = {name: value for name, value in env.items() if name != "SYNC_DAILY_WINDOW_MINUTES"}
    if "SYNC_DAILY_WINDOW_MINUTES" in os.environ:
        env["SYNC_DAILY_WINDOW_MINUTES"] = os.environ["SYNC_DAILY_WINDOW_MINUTES"]
    done = subprocess.run(
        [sys.executable, "-c", "import mint.settings as s; print(s.SYNC_DAILY_WINDOW_MINUTES)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


def projection(summary: Row, window_minutes: int) -> Row:
    """Cores and worker processes for one daily pass over TARGET_ACCOUNTS linked accounts."""
    accounts_per_connection = summary["accounts"] / summary["connections"]
    connections = TARGET_ACCOUNTS / accounts_per_connection
    per_connection = {name: summary["cpu_seconds"][name] / summary["connections"] for name in ("cluster", "postgres")}
    per_second = connections / (window_minutes * 60)
    cores = {name: per_second * seconds for name, seconds in per_connection.items()}
    # Little's law: busy workers = arrival rate x mean time a job holds one. A real bank takes
    # seconds to answer; the demo bank milliseconds. One statement request per connection.
    measured_hold = summary["run_mean_s"]
    processes_demo = per_second * measured_hold
    processes_real = per_second * (measured_hold + ASSUMED_BANK_SECONDS)
    return {
        "target_accounts": TARGET_ACCOUNTS,
        "accounts_per_connection": round(accounts_per_connection, 2),
        "connections": round(connections),
        "window_minutes": window_minutes,
        "connections_per_second_needed": round(per_second, 1),
        "cpu_seconds_per_connection": {name: round(value, 4) for name, value in per_connection.items()},
        "cores_needed": {name: round(value, 1) for name, value in cores.items()},
        "worker_processes_needed_at_demo_bank_speed": round(processes_demo),
        "assumed_real_bank_seconds_per_request": ASSUMED_BANK_SECONDS,
        "worker_processes_needed_at_assumed_bank_speed": round(processes_real),
        "worker_processes_per_core_at_assumed_bank_speed": round(processes_real / max(cores["cluster"], 1e-9), 1),
    }


def table(initial: Row, runs: list[Row], summary: Row) -> str:
    lines = [
        "| pass | connections | accounts | s | connections/min | accounts/min "
        "| queued->done p50 / p95 s | run p50 / p95 s | rows new | rows known | failed "
        "| cores: cluster / PostgreSQL / demo bank / script / rest |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def line(name: str, row: Row) -> str:
        cores = row["cores"]
        used = " / ".join(
            f"{cores[key]:.2f}" for key in ("cluster", "postgres", "demo bank", "this script", "everything else")
        )
        return (
            f"| {name} | {row['connections']:,.0f} | {row['accounts']:,.0f} | {row['seconds']:.1f} "
            f"| {row['connections_per_minute']:,.0f} | {row['accounts_per_minute']:,.0f} "
            f"| {row['queued_to_done_p50_s']:.2f} / {row['queued_to_done_p95_s']:.2f} "
            f"| {row['run_p50_s']:.3f} / {row['run_p95_s']:.3f} | {row['rows_new']:,.0f} "
            f"| {row['rows_existing']:,.0f} | {row['failed']} | {used} |"
        )

    lines.append(line("initial (first sync after linking)", initial))
    for index, run in enumerate(runs, 1):
        lines.append(line(f"daily, run {index}", run))
    lines.append(line(f"**daily, median of {len(runs)}**", summary))
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=500, help="connections (one user each; default 500)")
    parser.add_argument("--workers", type=int, default=2, help="cluster workers (TASK_WORKERS; default 2)")
    parser.add_argument("--runs", type=int, default=3, help="daily passes; medians are reported (default 3)")
    parser.add_argument(
        "--sample",
        type=int,
        help="connections linked through connection_create, the rest through the bulk path (default: all)",
    )
    parser.add_argument("--history-days", type=int, default=7, help="history fetched by the first sync")
    parser.add_argument("--quick", action="store_true", help="CI smoke size: 50 connections, 2 runs")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a pass may take before giving up")
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/mint_bench_refresh",
        help="dropped and cloned from <name>_template on every run",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8", help="the cache; flushed at will")
    parser.add_argument("--json", type=Path, default=VAR / "refresh.json")
    args = parser.parse_args()
    if args.quick:
        args.connections, args.runs = 50, 2
    if args.sample is None:
        args.sample = args.connections
    if args.connections < 1 or args.sample < 1 or args.runs < 1:
        parser.error("--connections, --sample and --runs must be at least 1")
    check_bench_urls(parser, args.database_url, args.redis_url)
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    info = machine()
    env = bench_env(args)
    window_minutes = production_window_minutes(env)  # the projection's time budget
    database_seconds = prepare_database(args.database_url, env)
    setup_django(env)
    from django.core.cache import cache
    from django.utils import timezone
    from django_q.models import Schedule

    from accounts.models import SyncJob

    cache.clear()
    # migrate leaves the product's schedules due at once: the cluster's scheduler would run the
    # daily tick itself at a moment of its choosing. This script calls the tick (below), so every
    # schedule is put off past the run; the scheduler still runs and costs what it costs.
    Schedule.objects.update(next_run=timezone.now() + dt.timedelta(days=1))
    bank_port = free_port()
    bank = Child("demo-bank", [sys.executable, str(MANAGE), "demo_bank", "--port", str(bank_port)], env)
    cluster = Child("qcluster", [sys.executable, str(MANAGE), "qcluster"], env)
    database = urlsplit(args.database_url).path.lstrip("/")
    try:
        wait_for_port(bank_port)
        ready = cluster_ready(cluster)
        log(f"demo bank on port {bank_port}; cluster of {args.workers} workers ready ({ready:.1f} s)")
        sampler = CpuSampler(cluster, bank, database)
        start = sampler.snapshot()
        since = timezone.now()
        linked = link_connections(args, f"http://127.0.0.1:{bank_port}/ofx")
        initial = initial_pass(cluster, sampler, start, since, args.connections, args.timeout)
        log(f"initial pass: {initial['connections_per_minute']:,.0f} connections/min, {initial['failed']} failed")
        runs = []
        for run in range(args.runs):
            figures = daily_pass(run, cluster, sampler, args.connections, args.timeout)
            runs.append(figures)
            log(
                f"daily pass {run + 1}/{args.runs}: {figures['connections_per_minute']:,.0f} connections/min, "
                f"p95 {figures['queued_to_done_p95_s']:.1f} s, {figures['rows_new']:,} new rows, "
                f"{figures['failed']} failed"
            )
        messages = list(
            SyncJob.objects.exclude(status=SyncJob.Status.DONE).values_list("message", flat=True).distinct()[:5]
        )
    finally:
        cluster.stop()
        bank.stop()
    summary = median_of(runs)
    projected = projection(summary, window_minutes)
    output = {
        "command": command_line(),
        "date": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        "machine": info,
        "settings": {
            "connections": args.connections,
            "workers": args.workers,
            "runs": args.runs,
            "history_days": args.history_days,
            "broker": "django-q2 ORM broker (PostgreSQL), as Q_CLUSTER in mint/settings.py",
            "production_window_minutes": window_minutes,
        },
        "database_seconds": round(database_seconds, 1),
        "linked": linked,
        "initial": initial,
        "runs": runs,
        "summary": summary,
        "failure_messages": messages,
        "projection": projected,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2, default=str))
    print()
    print(table(initial, runs, summary))
    print()
    p = projected
    print(
        f"projection, {p['target_accounts']:,} linked accounts ({p['accounts_per_connection']} per connection: "
        f"{p['connections']:,} connections) in the {p['window_minutes']}-minute window: "
        f"{p['connections_per_second_needed']:,} connections/s; cores for the workers "
        f"{p['cores_needed']['cluster']:,}, for PostgreSQL {p['cores_needed']['postgres']:,}; worker processes "
        f"{p['worker_processes_needed_at_demo_bank_speed']:,} at the demo bank's speed, "
        f"{p['worker_processes_needed_at_assumed_bank_speed']:,} if a bank takes {ASSUMED_BANK_SECONDS:.0f} s"
    )
    if summary["failed"] or initial["failed"]:
        print(f"FAILED jobs: {summary['failed']} in the daily passes, {initial['failed']} initial: {messages}")
    print(f"wrote {os.path.relpath(args.json, ROOT)} ({output['elapsed_seconds']:.0f} s in all)")
    if summary["failed"] or initial["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
