"""Throwaway PostgreSQL servers for tests that stop, restart or replicate one.

Each cluster lives in a temporary folder on a free loopback port (initdb and pg_ctl, or
pg_basebackup for a streaming replica): the machine's shared server is never touched.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connections

BASE_DIR = Path(settings.BASE_DIR)


def _postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian keeps them per version)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


POSTGRES_BIN = _postgres_bin()
ON_POSTGRESQL = "postgresql" in settings.DATABASES["default"]["ENGINE"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary folder, on a free loopback port, for one test.

    With `primary`, a streaming replica of it instead: a copy taken with `pg_basebackup -R`
    (which writes the standby signal and the primary's address), read-only, replaying the
    primary's WAL as it comes. initdb's default pg_hba.conf already trusts replication
    connections from loopback, and the primary runs with wal_level=replica and WAL senders.

    The server refuses to run as root, so as root the cluster belongs to the `postgres` user.
    fsync is off: the tests restart servers (a clean shutdown writes everything), they never
    crash the machine, and a fsync per commit would only slow them down.
    """

    def __init__(self, *, primary: ThrowawayPostgres | None = None) -> None:
        assert POSTGRES_BIN is not None
        self.root = Path(tempfile.mkdtemp(prefix="mint-pg-"))
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/mint"
        self.log = self.root / "server.log"
        if primary is None:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        else:
            self._run(
                "pg_basebackup",
                *("-D", str(self.data), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
                *("-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
            )
        self.start()
        if primary is None:
            with self.connect() as db:
                db.execute("CREATE DATABASE mint")

    def _run(self, program: str, *args: str) -> None:
        assert POSTGRES_BIN is not None
        subprocess.run(  # noqa: S603  (the installed PostgreSQL binaries)
            [*self.as_owner, str(POSTGRES_BIN / program), *args], check=True, capture_output=True, timeout=60
        )

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}", autocommit=True)

    def query(self, sql: str) -> object:
        """One value, on a connection of its own to the `postgres` database."""
        with self.connect() as db:
            row = db.execute(sql).fetchone()  # type: ignore[arg-type]  # the tests' own literal SQL
            assert row is not None
            return row[0]

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c wal_level=replica -c max_wal_senders=4"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def migrate(database_url: str) -> None:
    subprocess.run(  # noqa: S603  (our own manage.py)
        [sys.executable, str(BASE_DIR / "manage.py"), "migrate", "-v0"],
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=BASE_DIR,
        check=True,
        capture_output=True,
        timeout=120,
    )


@contextlib.contextmanager
def default_pointed_at(server: ThrowawayPostgres) -> Iterator[None]:
    """This process's default connection on `server`'s `mint` database, then back.

    The test's own ORM calls (factories, checks) then reach the same database as the site and
    the workers. The connection is pointed back before pytest-django cleans the test database.
    """
    default = connections["default"]
    saved = dict(default.settings_dict)
    default.close()
    default.settings_dict.update(HOST="127.0.0.1", PORT=str(server.port), NAME="mint", USER="postgres", PASSWORD="")
    try:
        yield
    finally:
        default.close()
        default.settings_dict.clear()
        default.settings_dict.update(saved)


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603  (our own programs)
            args, env=env, cwd=BASE_DIR, process_group=0, stdout=out, stderr=subprocess.STDOUT
        )


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
