"""Helpers shared by the benchmark scripts in bench/: logging, the environment of the processes
they start, the bench databases, and what /proc says about the machine."""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
MANAGE = ROOT / "manage.py"

Log = Callable[[str], None]


def log(message: str) -> None:
    """A timestamped progress line on stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def log_stderr(message: str) -> None:
    """A timestamped progress line on stderr (for scripts whose stdout is their result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Environment


def bench_env(
    args: argparse.Namespace, var_dir: Path, *, drop_prefixes: tuple[str, ...] = ("DJANGO_",), **settings: str
) -> dict[str, str]:
    """The environment of a bench process: this one's, less the variables starting with
    `drop_prefixes`, plus production settings (DEBUG off) on the bench database and Redis
    (args.database_url, args.redis_url), a new secret and credentials key, and `settings` last."""
    from cryptography.fernet import Fernet

    env = {name: value for name, value in os.environ.items() if not name.startswith(drop_prefixes)}
    env.update(
        DJANGO_SETTINGS_MODULE="mint.settings",
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        DEBUG="0",
        DEMO_MODE="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        CREDENTIALS_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


def setup_django(env: dict[str, str]) -> None:
    """Django set up in this process, with `env` as its environment."""
    os.environ.update(env)
    import django

    django.setup()


def check_bench_urls(parser: argparse.ArgumentParser, database_url: str, redis_url: str | None = None) -> None:
    """Exit through `parser` unless the database is a bench one and Redis (when given) has its own database."""
    if "bench" not in urlsplit(database_url).path:
        parser.error("--database-url must name a database for the benchmark (its name containing 'bench')")
    if redis_url is not None and urlsplit(redis_url).path.strip("/") in ("", "0", "15"):
        parser.error("--redis-url must name its own database (not 0, the default, nor 15, the tests')")


# ---------------------------------------------------------------------------------------------
# Databases


def admin_connect(database_url: str) -> Any:
    """An autocommit connection to the server's `postgres` database; exits when it is unreachable."""
    import psycopg

    parts = urlsplit(database_url)
    try:
        return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        sys.exit(f"PostgreSQL is not reachable at {parts.hostname}:{parts.port} ({error}); start it first")


def ensure_database(database_url: str, *, drop: bool = False, report: Log = log) -> None:
    """Create the database when missing (dropped first with `drop`)."""
    from psycopg import sql

    name = urlsplit(database_url).path.lstrip("/")
    with admin_connect(database_url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            report(f"dropping database {name}")
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            report(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def copy_batches(table: str, columns: str, batches: list[bytes]) -> float:
    """COPY each batch (COPY text format) into `table`'s `columns`, one transaction a batch. Seconds taken."""
    from django.db import connection, transaction

    started = time.perf_counter()
    for batch in batches:
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            copy.write(batch)
    return time.perf_counter() - started


def migrate(report: Log = log) -> None:
    """Apply the migrations to the database of this process's Django."""
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    report(f"migrated ({time.perf_counter() - started:.1f} s)")


def clone_migrated_template(database_url: str, env: dict[str, str], object_store: Path) -> float:
    """Migrate the template (created when missing), then clone it as the run's database and empty
    the run's object store. Seconds taken."""
    from psycopg import sql

    started = time.perf_counter()
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    template = f"{name}_template"
    with admin_connect(database_url) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone():
            log(f"creating database {template}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
    subprocess.run(  # noqa: S603  (our own manage.py)
        [sys.executable, str(MANAGE), "migrate", "--noinput", "--verbosity", "0"],
        env={**env, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{template}"))},
        check=True,
    )
    with admin_connect(database_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    # The run's object store (raw payloads) goes with the database it belonged to.
    shutil.rmtree(object_store, ignore_errors=True)
    seconds = time.perf_counter() - started
    log(f"database {name}: migrated template cloned ({seconds:.1f} s)")
    return seconds


# ---------------------------------------------------------------------------------------------
# Machine and processes


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown" when it gives none)."""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def machine() -> dict[str, Any]:
    """CPU, cores, Python version and load average, for a script's JSON output."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(value) for value in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values[:8]) - idle, sum(values[:8])


def process_commands() -> Iterator[tuple[int, str]]:
    """(pid, command line) of every process /proc shows, those gone meanwhile left out."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        yield int(entry.name), command


def command_line() -> str:
    """How this script was run, relative to the project root, for a script's JSON output."""
    return " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv])
