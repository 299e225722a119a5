"""The widget: GET /api/v1/spending/..., the `spending` command, and the cache in front of them."""

import datetime as dt
import json
import socket
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from transactions.models import MonthlySpending

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(user):
    return AccountFactory(user=user)


def this_month() -> dt.date:
    return timezone.localdate().replace(day=1)


def test_a_month_without_data_reads_as_zeros_without_writing(user_client):
    body = user_client.get("/api/v1/spending/current").json()
    assert body == {
        "month": f"{this_month():%Y-%m}",
        "total": "0.00",
        "categories": {},
        "txn_count": 0,
        "updated_at": None,
        "breakdown": [],
        "stale": False,
        "as_of": body["as_of"],
    }
    assert not MonthlySpending.objects.exists()


def test_current_month_totals_by_category(user_client, account, ingest):
    today = timezone.localdate()
    ingest(
        account,
        (today, "-84.27", "WHOLE FOODS MKT #10234"),
        (today, "-5.75", "SQ *BLUE BOTTLE COFFE"),
        (today, "-4.25", "STARBUCKS STORE 10482"),
        (today, "2850.00", "ACME CORP PAYROLL PPD"),
        (today, "-400.00", "CHASE CREDIT CRD AUTOPAY"),
    )
    body = user_client.get("/api/v1/spending/current").json()
    assert body["total"] == "94.27"
    assert body["categories"] == {"food/groceries": "84.27", "food/coffee": "10.00"}
    assert body["txn_count"] == 3
    assert body["updated_at"] is not None


def test_a_past_month_by_its_route(user_client, account, ingest):
    ingest(account, (dt.date(2026, 3, 9), "-48.10", "SHELL OIL 57444212"))
    body = user_client.get("/api/v1/spending/2026-03/").json()
    assert (body["month"], body["total"], body["categories"]) == ("2026-03", "48.10", {"transport/gas": "48.10"})
    assert user_client.get("/api/v1/spending/2026-13/").status_code == 404


def test_spending_command_prints_the_same_json_as_the_api(user, user_client, account, ingest):
    ingest(account, (dt.date(2026, 3, 9), "-48.10", "SHELL OIL 57444212"))
    out = StringIO()
    call_command("spending", "--user", user.username, "--month", "2026-03", stdout=out)
    assert json.loads(out.getvalue()) == user_client.get("/api/v1/spending/2026-03/").json()
    out = StringIO()
    call_command("spending", "--user", user.username, stdout=out)
    assert json.loads(out.getvalue()) == user_client.get("/api/v1/spending/current").json()


def test_warm_read_is_one_cache_hit_and_an_import_refreshes_it(user_client, account, ingest, django_assert_num_queries):
    today = timezone.localdate()
    ingest(account, (today, "-10.00", "SHELL OIL 57444212"))
    user_client.get("/api/v1/spending/current")  # fills the cache

    with django_assert_num_queries(0):
        assert user_client.get("/api/v1/spending/current").json()["total"] == "10.00"

    ingest(account, (today, "-5.00", "SHELL OIL 57444212", "second"))
    assert user_client.get("/api/v1/spending/current").json()["total"] == "15.00"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_dead_redis_falls_back_to_the_database(user_client, account, ingest):
    """A real django-redis client against a port where no Redis listens: reads still answer."""
    today = timezone.localdate()
    dead_redis = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1},
        }
    }
    with override_settings(CACHES=dead_redis):
        ingest(account, (today, "-12.00", "SHELL OIL 57444212"))
        response = user_client.get("/api/v1/spending/current")
    assert response.status_code == 200
    assert response.json()["total"] == "12.00"
