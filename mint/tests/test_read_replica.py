"""Read replicas: the read path answered by a real streaming replica, read-your-writes for the writer.

Real parts: a throwaway primary (initdb) and a streaming replica of it (`pg_basebackup -R`), both on
loopback ports of their own; gunicorn configured as production would be, with DATABASE_URL on the
primary and DATABASE_REPLICA_URLS on the replica; Redis (the widget's cache and the writers' marks);
`manage.py import_transactions` as an ingestion in another process. The replica's replay is paused
(`pg_wal_replay_pause()`) so the primary runs ahead of it: what the site shows then tells which
server answered. Without replicas configured, nothing changes (the tests at the end, on any database).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.test import Client, override_settings
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from mint.db_router import ReplicaRouter, replica_for, replica_reads, replica_written_key
from mint.tests.factories import UserFactory
from mint.tests.postgres import (
    BASE_DIR,
    ON_POSTGRESQL,
    POSTGRES_BIN,
    ThrowawayPostgres,
    default_pointed_at,
    free_port,
    migrate,
    start_process,
    stop_process,
    wait_for,
)
from security.services import api_token_create
from transactions.models import Transaction
from transactions.selectors import spending_cache_key, spending_last_known_key

OFX_FILE = BASE_DIR / "transactions" / "tests" / "data" / "checking_2026-10.ofx"  # 9 rows


def _missing_for_replication() -> str:
    if not ON_POSTGRESQL:
        return "needs PostgreSQL: the test streams a PostgreSQL primary to a replica of its own"
    if POSTGRES_BIN is None or not (POSTGRES_BIN / "pg_basebackup").exists():
        return "needs the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup)"
    if not settings.REDIS_URL:
        return "needs REDIS_URL: the site and the test share the writers' marks through the cache"
    return ""


MISSING_FOR_REPLICATION = _missing_for_replication()


@pytest.fixture
def replicated(transactional_db) -> Iterator[tuple[ThrowawayPostgres, ThrowawayPostgres]]:
    """A primary and its streaming replica, migrated (the replica replays the migration), and
    this process's default connection on the primary."""
    primary = ThrowawayPostgres()
    replica: ThrowawayPostgres | None = None
    try:
        replica = ThrowawayPostgres(primary=primary)
        migrate(primary.url)
        with default_pointed_at(primary):
            yield primary, replica
    finally:
        if replica is not None:
            replica.remove()
        primary.remove()


def caught_up(primary: ThrowawayPostgres, replica: ThrowawayPostgres, timeout: float = 30) -> float:
    """Wait until the replica has replayed everything the primary wrote so far; the seconds it took."""
    lsn = primary.query("SELECT pg_current_wal_lsn()::text")
    started = time.monotonic()
    wait_for(
        lambda: bool(replica.query(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn")),
        timeout,
        "the replica to replay the primary's WAL",
    )
    return time.monotonic() - started


def replay_pause(replica: ThrowawayPostgres) -> None:
    replica.query("SELECT pg_wal_replay_pause()::text")
    wait_for(lambda: replica.query("SELECT pg_get_wal_replay_pause_state()") == "paused", 10, "the replay to pause")


@dataclass
class Visitor:
    """One user of the site under gunicorn: the API with a token, pages with a session."""

    port: int
    token: str
    session: str

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            client.request(method, path, body=body, headers=headers)
            response = client.getresponse()
            return response.status, response.read()
        finally:
            client.close()

    def api(self, method: str, path: str, data: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
        status, body = self._send(method, path, headers, json.dumps(data).encode() if data is not None else None)
        return status, json.loads(body) if body else None

    def page(self, path: str) -> tuple[int, str]:
        status, body = self._send("GET", path, {"Cookie": f"sessionid={self.session}"}, None)
        return status, body.decode()

    def transactions(self) -> dict[int, tuple[str, str]]:
        """The transaction list through the API: id -> (description, category)."""
        status, body = self.api("GET", "/api/v1/transactions/")
        assert status == 200, body
        return {row["id"]: (row["description"], row["category"]) for row in body["results"]}

    def widget(self) -> dict[str, Any]:
        status, body = self.api("GET", "/api/v1/spending/current/")
        assert status == 200, body
        return body


def visitor(port: int, user) -> Visitor:
    browser = Client()
    browser.force_login(user)
    return Visitor(port, api_token_create(user=user, name="phone").key, browser.cookies["sessionid"].value)


def widget_cache_clear(user) -> None:
    """Forget the user's cached month, so the widget's next answer is read from a database."""
    month = timezone.localdate().replace(day=1)
    cache.delete_many([spending_cache_key(user.pk, month), spending_last_known_key(user.pk, month)])


@pytest.mark.skipif(bool(MISSING_FOR_REPLICATION), reason=MISSING_FOR_REPLICATION)
@pytest.mark.django_db(transaction=True)
def test_read_path_reads_the_replica_and_writers_read_their_writes(replicated, ingest, tmp_path):
    started = time.monotonic()
    primary, replica = replicated
    today = timezone.localdate()
    writer, other = UserFactory.create(), UserFactory.create()
    writer_account, other_account = AccountFactory.create(user=writer), AccountFactory.create(user=other)
    ingest(writer_account, (today, "-40.00", "WHOLE FOODS MKT #10234", "w1"))
    ingest(other_account, (today, "-12.00", "STARBUCKS STORE 10482", "o1"))
    groceries = Transaction.objects.get(user=writer, external_id="w1")
    coffee = Transaction.objects.get(user=other, external_id="o1")
    before = {coffee.pk: ("STARBUCKS STORE 10482", "food/coffee")}

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": primary.url,
        "DATABASE_REPLICA_URLS": replica.url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "REPLICA_READ_YOUR_WRITES_SECONDS": "120",
    }
    web = start_process(
        [sys.executable, "-m", "gunicorn", "mint.wsgi:application", "--bind", f"127.0.0.1:{port}", "-w", "1"],
        env,
        tmp_path / "gunicorn.log",
    )
    try:
        wait_for(lambda: _answers(port), 30, "gunicorn to answer")
        me, them = visitor(port, writer), visitor(port, other)
        lag_setup = caught_up(primary, replica)
        for person in (me, them):
            for path in ["/", "/transactions/"]:
                assert person.page(path)[0] == 200, path
            person.widget()
        assert them.transactions() == before
        # The site holds connections on the replica (CONN_MAX_AGE): the read path went there.
        on_replica = replica.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'mint' AND backend_type = 'client backend'"
        )
        assert isinstance(on_replica, int)
        assert on_replica >= 1

        # (a) The replica stops replaying; the other user's new spending is on the primary only.
        replay_pause(replica)
        paused_at = time.monotonic()
        ingest(other_account, (today, "-7.00", "SHELL OIL 57444212", "o2"))  # no mark: this process has no replicas
        assert them.transactions() == before  # the replica's state
        assert "SHELL OIL 57444212" not in them.page("/transactions/")[1]
        widget_cache_clear(other)
        assert them.widget()["total"] == "12.00"  # the widget, past its cache, reads the replica too

        # (b) The writer changes things through the site and another process; they see it at once.
        status, body = me.api("PATCH", f"/api/v1/transactions/{groceries.pk}/", {"category": "food/dining"})
        assert status == 200, body
        status, body = me.api("POST", "/api/v1/budgets/", {"category": "food", "amount": "300.00"})
        assert status == 201, body
        command = ["import_transactions", "--user", writer.username, "--account", "Checking", str(OFX_FILE)]
        imported = subprocess.run(  # noqa: S603  (our own manage.py)
            [sys.executable, str(BASE_DIR / "manage.py"), *command],
            env=env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert imported.returncode == 0, imported.stderr
        assert imported.stdout.strip() == "9 new, 0 already imported"

        mine = me.transactions()
        assert mine[groceries.pk] == ("WHOLE FOODS MKT #10234", "food/dining")
        assert len(mine) == 10  # the import's nine rows too
        assert 'value="food/dining" selected' in me.page("/transactions/")[1]
        assert me.page("/")[0] == 200
        widget_cache_clear(writer)
        widget = me.widget()  # from the database, not from the cache the writes refreshed
        assert widget["categories"].get("food/dining") == "40.00"
        assert widget["categories"].get("food/groceries") is None
        assert {row["category"]: row["budget"] for row in widget["breakdown"]}.get("food") == "300.00"
        # Meanwhile the other user still reads the replica, which has none of it.
        assert them.transactions() == before

        # What routed the writer to the primary is their mark: without it they read the replica too.
        assert cache.get(replica_written_key(writer.pk)) is not None
        cache.delete(replica_written_key(writer.pk))
        assert me.transactions() == {groceries.pk: ("WHOLE FOODS MKT #10234", "food/groceries")}

        # Replay resumes: the replica catches up and everyone reads it again, all of it.
        paused_for = time.monotonic() - paused_at
        replica.query("SELECT pg_wal_replay_resume()::text")
        lag_backlog = caught_up(primary, replica)
        assert set(them.transactions().values()) == {*before.values(), ("SHELL OIL 57444212", "transport/gas")}
        assert "SHELL OIL 57444212" in them.page("/transactions/")[1]
        mine = me.transactions()
        assert mine[groceries.pk] == ("WHOLE FOODS MKT #10234", "food/dining")
        assert len(mine) == 10

        # The lag of one write while replaying: the writer's mark, then the replica has it.
        status, body = me.api("POST", "/api/v1/budgets/", {"category": "travel", "amount": "90.00"})
        assert status == 201, body
        lag_one_write = caught_up(primary, replica)

        # The replica goes away: the read path falls back to the primary, for everyone.
        replica.stop("immediate")
        assert len(them.transactions()) == 2
        assert them.page("/")[0] == them.page("/transactions/")[0] == 200
        assert len(me.transactions()) == 10  # the writer's mark is checked on the replica: unreachable
    finally:
        stop_process(web)

    # (c) Nothing was ever written to the replica (a hot standby refuses writes with an ERROR),
    # and the site failed nothing.
    replica_log = replica.log.read_text()
    assert "ERROR" not in replica_log, replica_log
    site_log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in site_log, site_log
    assert "replica replica_0 unavailable (OperationalError): read from the primary" in site_log
    print(
        f"\nread replica: replay caught up {lag_setup * 1000:.0f} ms after setup, "
        f"{lag_backlog * 1000:.0f} ms after a {paused_for:.1f} s pause, "
        f"{lag_one_write * 1000:.0f} ms after one write; test {time.monotonic() - started:.0f} s"
    )


def _answers(port: int) -> bool:
    try:
        return Visitor(port, "", "").page("/login/")[0] == 200
    except OSError:
        return False


# Without replicas (the default, on any database): one database, no router, the read path unchanged.


def test_without_replicas_there_is_one_database_and_no_router():
    assert settings.DATABASE_REPLICAS == []
    assert list(settings.DATABASES) == [DEFAULT_DB_ALIAS]
    assert settings.DATABASE_ROUTERS == []
    assert "mint.db_router.ReplicaReadYourWritesMiddleware" not in settings.MIDDLEWARE
    assert replica_for(user_id=1) == DEFAULT_DB_ALIAS
    with replica_reads(user_id=None) as alias:
        assert alias == DEFAULT_DB_ALIAS


def manage_shell(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("DATABASE_")}
    return subprocess.run(  # noqa: S603  (our own manage.py)
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "shell", "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


SHOW_DATABASES = (
    "import json; from django.conf import settings; print(json.dumps({'databases': {alias: "
    "[db['HOST'], db['CONN_MAX_AGE'], db['CONN_HEALTH_CHECKS'], db['TEST'].get('MIRROR')] "
    "for alias, db in settings.DATABASES.items()}, 'routers': settings.DATABASE_ROUTERS}))"
)


def test_replica_urls_add_mirrored_aliases_and_the_router():
    result = manage_shell(
        SHOW_DATABASES,
        {
            "DATABASE_URL": "postgres://mint@primary.internal:5432/mint",
            "DATABASE_REPLICA_URLS": "postgres://mint@replica-a.internal/mint,postgres://mint@replica-b.internal/mint",
            "CONN_MAX_AGE": "300",
        },
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {  # after the shell's own notice of its imports
        "databases": {
            "default": ["primary.internal", 300, True, None],
            "replica_0": ["replica-a.internal", 300, True, "default"],
            "replica_1": ["replica-b.internal", 300, True, "default"],
        },
        "routers": ["mint.db_router.ReplicaRouter"],
    }


def test_replicas_are_refused_beside_sqlite():
    result = manage_shell(SHOW_DATABASES, {"DATABASE_REPLICA_URLS": "postgres://mint@replica.internal/mint"})
    assert result.returncode != 0
    assert "DATABASE_REPLICA_URLS needs PostgreSQL" in result.stderr


@override_settings(DATABASE_REPLICAS=["replica_0"])
@pytest.mark.django_db(transaction=True)
def test_router_sends_only_marked_reads_outside_transactions_to_a_replica():
    router = ReplicaRouter()
    assert router.db_for_read(Transaction) == DEFAULT_DB_ALIAS  # not marked
    with replica_reads(user_id=None) as alias:
        assert alias == "replica_0"
        assert router.db_for_read(Transaction) == "replica_0"
        assert router.db_for_write(Transaction) == DEFAULT_DB_ALIAS
        with transaction.atomic():  # a read that may precede a write sees the primary
            assert router.db_for_read(Transaction) == DEFAULT_DB_ALIAS
    assert router.db_for_read(Transaction) == DEFAULT_DB_ALIAS
    assert router.allow_migrate("replica_0", "transactions") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "transactions") is True
