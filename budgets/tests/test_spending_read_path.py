"""The widget's read path: breakdown with budgets, ETag revalidation, the cache refreshed by
commits, and the fallbacks when Redis or the database is down (real servers, stopped)."""

import logging
import shutil
import socket
import subprocess
import time
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import AccountFactory
from budgets.services import budget_set
from categories.models import Category
from security.services import api_token_create, api_token_revoke
from transactions.selectors import spending_cache_key

pytestmark = pytest.mark.django_db
REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture
def account(user):
    return AccountFactory.create(user=user)


def spend_this_month(ingest, account, *lines):
    today = timezone.localdate()
    return ingest(account, *((today, amount, descriptor, f"{descriptor}-{amount}") for amount, descriptor in lines))


def test_breakdown_groups_children_under_their_parent_with_budgets(user, user_client, account, ingest):
    spend_this_month(
        ingest,
        account,
        ("-84.27", "WHOLE FOODS MKT #10234"),
        ("-15.73", "WHOLE FOODS MKT #10234"),
        ("-6.00", "STARBUCKS STORE 10482"),
        ("-48.10", "SHELL OIL 57444212"),
    )
    budget_set(user=user, category=Category.objects.get(path="food"), amount=Decimal("200.00"))
    budget_set(user=user, category=Category.objects.get(path="food/coffee"), amount=Decimal("5.00"))
    budget_set(user=user, category=Category.objects.get(path="travel"), amount=Decimal("300.00"))

    body = user_client.get("/api/v1/spending/current").json()

    assert body["categories"] == {"food/groceries": "100.00", "transport/gas": "48.10", "food/coffee": "6.00"}
    assert body["breakdown"] == [
        {
            "category": "food",
            "amount": "106.00",
            "count": 3,
            "budget": "200.00",
            "percent_used": "53.0",
            "children": [
                {"category": "food/groceries", "amount": "100.00", "count": 2, "budget": None, "percent_used": None},
                {"category": "food/coffee", "amount": "6.00", "count": 1, "budget": "5.00", "percent_used": "120.0"},
            ],
        },
        {
            "category": "transport",
            "amount": "48.10",
            "count": 1,
            "budget": None,
            "percent_used": None,
            "children": [
                {"category": "transport/gas", "amount": "48.10", "count": 1, "budget": None, "percent_used": None},
            ],
        },
        {"category": "travel", "amount": "0.00", "count": 0, "budget": "300.00", "percent_used": "0.0", "children": []},
    ]
    assert body["stale"] is False


def test_etag_lets_the_app_revalidate_with_a_304(user_client, account, ingest):
    spend_this_month(ingest, account, ("-10.00", "SHELL OIL 57444212"))
    first = user_client.get("/api/v1/spending/current")
    assert "private" in first["Cache-Control"]
    assert "max-age=0" in first["Cache-Control"]
    assert "stale-if-error" in first["Cache-Control"]

    unchanged = user_client.get("/api/v1/spending/current", HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    spend_this_month(ingest, account, ("-5.00", "SHELL OIL 57444212"))
    changed = user_client.get("/api/v1/spending/current", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    assert changed.json()["total"] == "15.00"


def test_a_commit_refreshes_the_cache_so_the_next_read_touches_no_database(
    user, user_client, account, ingest, django_assert_num_queries, django_capture_on_commit_callbacks
):
    user_client.get("/api/v1/spending/current")  # the month and the budgets are cached
    spend_this_month(ingest, account, ("-10.00", "SHELL OIL 57444212"))
    with django_capture_on_commit_callbacks(execute=True):
        budget_set(user=user, category=Category.objects.get(path="transport"), amount=Decimal("40.00"))

    with django_assert_num_queries(0):
        body = user_client.get("/api/v1/spending/current").json()
    assert body["total"] == "10.00"
    assert body["breakdown"][0]["percent_used"] == "25.0"


def test_a_cold_read_is_one_query_on_the_aggregates_and_one_on_budgets(
    user_client, account, ingest, django_assert_num_queries
):
    spend_this_month(ingest, account, ("-10.00", "SHELL OIL 57444212"))
    user_client.get("/api/v1/spending/current")  # the day's first request also records the user as active
    cache.clear()
    with django_assert_num_queries(2) as captured:
        assert user_client.get("/api/v1/spending/current").json()["total"] == "10.00"
    sql = " ".join(query["sql"] for query in captured.captured_queries)
    assert "monthly_spending" in sql
    assert "transactions_transaction" not in sql


def test_token_auth_costs_no_query_when_warm_and_a_revoked_token_stops_at_once(
    user, account, ingest, django_assert_num_queries
):
    new_token = api_token_create(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {new_token.key}")
    assert client.get("/api/v1/spending/current").status_code == 200

    with django_assert_num_queries(0):
        assert client.get("/api/v1/spending/current").status_code == 200

    api_token_revoke(token=new_token.token)
    assert client.get("/api/v1/spending/current").status_code == 401


def test_a_deactivated_users_cached_token_stops_working(user):
    new_token = api_token_create(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {new_token.key}")
    assert client.get("/api/v1/spending/current").status_code == 200
    user.is_active = False
    user.save()
    assert client.get("/api/v1/spending/current").status_code == 401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A real redis-server of the test's own, on a free loopback port, that the test can stop."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(  # noqa: S603  (a fixed argument list)
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)

    @property
    def caches(self) -> dict:
        return {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{self.port}/0",
                "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
            }
        }


@pytest.fixture
def redis_server():
    if REDIS_SERVER is None:
        pytest.skip("needs redis-server (apt-get install redis-server); .ci/run installs it")
    server = RedisServer()
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.stop()


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_redis_stopped_every_read_is_answered_from_the_database_and_logged_once(
    user, user_client, client, account, ingest, redis_server
):
    warnings = Records()
    cache_log = logging.getLogger("mint.cache")
    cache_log.addHandler(warnings)
    try:
        with override_settings(CACHES=redis_server.caches):
            spend_this_month(ingest, account, ("-12.00", "SHELL OIL 57444212"))
            assert user_client.get("/api/v1/spending/current").json()["total"] == "12.00"  # cached

            redis_server.stop()
            spend_this_month(ingest, account, ("-3.00", "SHELL OIL 57444212"))  # the refresh cannot reach it
            statuses = [user_client.get("/api/v1/spending/current") for _ in range(200)]
            assert {response.status_code for response in statuses} == {200}
            assert {response.json()["total"] for response in statuses} == {"15.00"}
            client.force_login(user)
            pages = [client.get("/") for _ in range(200)]
            assert {page.status_code for page in pages} == {200}
            assert all(b"$15.00" in page.content for page in pages)

            redis_server.start()  # back, empty: reads fill it again
            assert user_client.get("/api/v1/spending/current").json()["total"] == "15.00"
    finally:
        cache_log.removeHandler(warnings)
    assert len(warnings.records) <= 1


@pytest.mark.django_db(transaction=True)
def test_database_stopped_the_last_known_copy_answers_marked_stale(user, account, ingest):
    if connection.vendor != "postgresql":
        pytest.skip("stops the database server's connection for real: PostgreSQL only (CI's second run)")
    new_token = api_token_create(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {new_token.key}")
    spend_this_month(ingest, account, ("-12.00", "SHELL OIL 57444212"))
    fresh = client.get("/api/v1/spending/current").json()
    assert fresh["stale"] is False

    cache.delete(spending_cache_key(user.pk, timezone.localdate().replace(day=1)))  # expired
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = _free_port()  # nothing listens there: as a stopped server
    try:
        stale = client.get("/api/v1/spending/current")
        assert stale.status_code == 200
        body = stale.json()
        assert body["stale"] is True
        assert body["total"] == "12.00"
        assert body["as_of"] == fresh["as_of"]

        assert client.get("/api/v1/spending/2020-01/").status_code == 503  # nothing known of that month
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port


def test_the_fast_representation_is_exactly_the_documented_serializers(user, account, ingest):
    from budgets.selectors import SpendingSummary, spending_summary
    from budgets.serializers import SpendingOutputSerializer, spending_representation

    spend_this_month(
        ingest,
        account,
        ("-84.27", "WHOLE FOODS MKT #10234"),
        ("25.00", "WHOLE FOODS MKT #10234"),
        ("-6", "NETFLIX.COM"),
    )
    budget_set(user=user, category=Category.objects.get(path="food"), amount=Decimal("70.00"))
    budget_set(user=user, category=Category.objects.get(path="food/coffee"), amount=Decimal("3.33"))
    summary = spending_summary(user_id=user.pk, month=timezone.localdate().replace(day=1))
    stale = SpendingSummary(summary.spending, summary.budgets, stale=True)
    empty = spending_summary(user_id=user.pk, month=timezone.localdate().replace(year=2001, day=1))
    for case in (summary, stale, empty):
        assert spending_representation(case) == SpendingOutputSerializer(case).data
