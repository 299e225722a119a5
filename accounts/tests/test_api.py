"""POST /api/v1/account (the brief's connect call) and the accounts list."""

import pytest
from django.core.cache import cache

from accounts.models import Account, Connection
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


def connect_body(demo_bank, **overrides):
    body = {"account_url": demo_bank.url, "account_login": "alice", "account_password": demo_bank.password}
    return {**body, **overrides}


def test_connect_links_accounts_and_imports_through_the_queue(
    user_client, user, demo_bank, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post("/api/v1/account", connect_body(demo_bank, user_id=str(user.pk)), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    accounts = list(Account.objects.filter(user=user).order_by("pk"))
    assert body == {
        "user_id": user.pk,
        "account_id": accounts[0].pk,
        "account_ids": [account.pk for account in accounts],
        "connection_id": accounts[0].connection_id,
        "action": "connect",
        "status": "success",
    }
    assert Transaction.objects.filter(user=user).count() > 50
    connection = Connection.objects.get(user=user)
    assert connection.last_synced_at is not None
    assert demo_bank.password not in connection.encrypted_credentials


def test_password_is_never_in_a_response(user_client, demo_bank, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        connect = user_client.post("/api/v1/account", connect_body(demo_bank), format="json")
    listing = user_client.get("/api/v1/accounts/")
    for response in (connect, listing):
        assert demo_bank.password.encode() not in response.content
        assert b"encrypted_credentials" not in response.content


def test_user_id_of_someone_else_is_refused_and_nothing_stored(user_client, other_user, demo_bank):
    response = user_client.post("/api/v1/account", connect_body(demo_bank, user_id=str(other_user.pk)), format="json")
    assert response.status_code == 403
    assert not Connection.objects.exists()


def test_wrong_password_is_a_clear_400_and_nothing_stored(user_client, demo_bank):
    response = user_client.post("/api/v1/account", connect_body(demo_bank, account_password="wrong"), format="json")
    assert response.status_code == 400
    assert "rejected the login" in response.json()["account_password"][0]
    assert not Connection.objects.exists()
    assert not Account.objects.exists()


def test_unreachable_bank_is_a_clear_400(user_client):
    body = {"account_url": "http://127.0.0.1:9/ofx", "account_login": "a", "account_password": "b"}
    response = user_client.post("/api/v1/account", body, format="json")
    assert response.status_code == 400
    assert "Could not connect" in response.json()["account_url"][0]
    assert not Connection.objects.exists()


def test_private_url_is_refused_outside_demo_mode(user_client, settings):
    settings.DEMO_MODE = False
    body = {"account_url": "https://192.168.1.10/ofx", "account_login": "a", "account_password": "b"}
    response = user_client.post("/api/v1/account", body, format="json")
    assert response.status_code == 400
    assert "private or local" in response.json()["account_url"][0]


def test_connect_requires_authentication(api_client, demo_bank):
    assert api_client.post("/api/v1/account", connect_body(demo_bank), format="json").status_code == 401


def test_accounts_list_shows_status_and_masked_number(user_client, user, demo_bank, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user_client.post("/api/v1/account", connect_body(demo_bank), format="json")
    cache.clear()
    results = user_client.get("/api/v1/accounts/").json()["results"]
    assert [(a["name"], a["kind"], a["number"], a["status"]) for a in results] == [
        ("Everyday Checking", "checking", "••6789", "active"),
        ("Rewards Visa", "credit-card", "••7899", "active"),
    ]
    assert all(a["balance"] is not None and a["last_synced_at"] for a in results)


def test_linking_the_same_bank_twice_is_a_409_and_counts_nothing_twice(
    user_client, user, demo_bank, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = user_client.post("/api/v1/account", connect_body(demo_bank), format="json")
    rows = Transaction.objects.count()

    again = user_client.post("/api/v1/account", connect_body(demo_bank), format="json")

    assert first.status_code == 201
    assert again.status_code == 409
    assert "already linked" in again.json()["detail"]
    assert Connection.objects.filter(user=user).count() == 1
    assert Transaction.objects.count() == rows


def test_login_and_password_longer_than_ofx_allows_are_400s(user_client, demo_bank):
    for field, value in [("account_login", "x" * 33), ("account_password", "x" * 172)]:
        response = user_client.post("/api/v1/account", connect_body(demo_bank, **{field: value}), format="json")
        assert response.status_code == 400
        assert field in response.json()
    assert not Connection.objects.exists()
