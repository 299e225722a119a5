"""POST /api/v1/account (the brief's connect call) and the accounts list."""

import datetime as dt
import json

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Account, Connection, Institution, SyncJob
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
        ("Brokerage", "investment", "••0042", "active"),
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


@pytest.fixture
def linked_by_api(user_client, user, demo_bank, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post("/api/v1/account", connect_body(demo_bank), format="json")
    assert response.status_code == 201, response.content
    return Connection.objects.get(pk=response.json()["connection_id"])


def test_connections_show_status_balances_and_the_latest_job(user_client, linked_by_api):
    [connection] = user_client.get("/api/v1/connections/").json()["results"]

    assert connection["id"] == linked_by_api.pk
    assert (connection["provider"], connection["status"], connection["last_error"]) == ("ofx", "active", "")
    assert connection["last_synced_at"] is not None
    assert all(account["balance"] is not None for account in connection["accounts"])
    assert connection["latest_job"]["status"] == "done"
    assert connection["latest_job"]["trigger"] == "link"
    assert "encrypted_credentials" not in json.dumps(connection)


def test_refresh_answers_202_with_a_job_to_poll_and_repeated_clicks_queue_nothing_more(user_client, linked_by_api):
    SyncJob.objects.filter(connection=linked_by_api).update(finished_at=timezone.now() - dt.timedelta(minutes=5))
    account = linked_by_api.accounts.first()

    first = user_client.post(f"/api/v1/accounts/{account.pk}/refresh")
    second = user_client.post(f"/api/v1/connections/{linked_by_api.pk}/refresh")

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["status"] == "queued"
    assert first["Location"].endswith(f"/api/v1/sync-jobs/{first.json()['id']}")
    job = user_client.get(f"/api/v1/sync-jobs/{first.json()['id']}/").json()
    assert (job["status"], job["trigger"]) == ("queued", "manual")
    assert SyncJob.objects.filter(connection=linked_by_api, status__in=SyncJob.IN_FLIGHT).count() == 1


def test_a_job_reports_done_with_what_it_imported(user_client, linked_by_api, django_capture_on_commit_callbacks):
    SyncJob.objects.filter(connection=linked_by_api).update(finished_at=timezone.now() - dt.timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        job_id = user_client.post(f"/api/v1/connections/{linked_by_api.pk}/refresh").json()["id"]
    job = user_client.get(f"/api/v1/sync-jobs/{job_id}").json()
    assert (job["status"], job["rows_new"], job["message"]) == ("done", 0, "Up to date: nothing new.")


def test_refreshing_moments_after_a_sync_is_429_with_retry_after(user_client, linked_by_api):
    response = user_client.post(f"/api/v1/connections/{linked_by_api.pk}/refresh")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["job"]["status"] == "done"


def test_a_file_account_cannot_be_refreshed(user_client, user):
    account = Account.objects.create(user=user, name="From files")
    response = user_client.post(f"/api/v1/accounts/{account.pk}/refresh")
    assert response.status_code == 409
    assert "upload" in response.json()["detail"]


def test_re_entering_credentials_after_a_password_change(user_client, linked_by_api, demo_bank):
    Connection.objects.filter(pk=linked_by_api.pk).update(status=Connection.Status.NEEDS_ATTENTION)
    wrong = user_client.put(
        f"/api/v1/connections/{linked_by_api.pk}/credentials", {"login": "alice", "password": "nope"}, format="json"
    )
    right = user_client.put(
        f"/api/v1/connections/{linked_by_api.pk}/credentials",
        {"login": "alice", "password": demo_bank.password},
        format="json",
    )
    assert wrong.status_code == 400
    assert "password" in wrong.json()
    assert right.status_code == 202, right.content
    assert right.json()["trigger"] == "credentials"
    assert Connection.objects.get(pk=linked_by_api.pk).status == "active"
    assert demo_bank.password not in right.content.decode()


def test_disconnect_requires_a_choice_about_the_history(user_client, linked_by_api):
    refused = user_client.delete(f"/api/v1/connections/{linked_by_api.pk}/")
    assert refused.status_code == 400
    assert "history" in refused.json()
    rows = Transaction.objects.count()

    kept = user_client.delete(f"/api/v1/connections/{linked_by_api.pk}/?history=keep")

    assert kept.status_code == 204
    assert not Connection.objects.exists()
    assert Transaction.objects.count() == rows
    assert user_client.get("/api/v1/accounts/").json()["results"][0]["connection_id"] is None


def test_disconnect_and_delete_the_history(user_client, linked_by_api):
    assert user_client.delete(f"/api/v1/connections/{linked_by_api.pk}/?history=delete").status_code == 204
    assert not Transaction.objects.exists()
    assert user_client.get("/api/v1/accounts/").json()["results"] == []


def test_connect_with_a_bank_from_the_directory(user_client, user, demo_bank, django_capture_on_commit_callbacks):
    bank = Institution.objects.create(name="Demo Bank", ofx_url=demo_bank.url, ofx_org="DEMO", ofx_fid="1234")
    listed = user_client.get("/api/v1/institutions/", {"q": "demo"}).json()["results"]
    assert [entry["id"] for entry in listed] == [bank.pk]

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(
            "/api/v1/account",
            {"institution_id": bank.pk, "account_login": "alice", "account_password": demo_bank.password},
            format="json",
        )

    assert response.status_code == 201, response.content
    connection = Connection.objects.get(user=user)
    assert (connection.institution, connection.url, connection.ofx_org) == (bank, demo_bank.url, "DEMO")


def test_connect_needs_an_institution_or_a_url(user_client):
    response = user_client.post("/api/v1/account", {"account_login": "a", "account_password": "b"}, format="json")
    assert response.status_code == 400
    assert "account_url" in response.json()


def test_link_a_simplefin_bridge(user_client, user, simplefin_bridge, django_capture_on_commit_callbacks):
    token = simplefin_bridge.setup_token()
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post("/api/v1/connections/simplefin", {"setup_token": token}, format="json")

    assert response.status_code == 201, response.content
    connection = Connection.objects.get(user=user)
    assert connection.provider == "simplefin"
    assert "@" not in connection.url  # the access URL's login is kept only encrypted
    assert Transaction.objects.filter(user=user).exists()
    again = user_client.post("/api/v1/connections/simplefin", {"setup_token": token}, format="json")
    assert again.status_code == 400
    assert "setup_token" in again.json()


def test_a_bank_that_cannot_list_accounts_is_linked_by_the_account_number(
    user_client, user, demo_bank, django_capture_on_commit_callbacks
):
    from accounts.demo_bank.persona import CHECKING

    body = connect_body(demo_bank, account_id=CHECKING.acctid, account_type="CHECKING", bank_id=CHECKING.bankid)
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post("/api/v1/account", body, format="json")

    assert response.status_code == 201, response.content
    [account] = Account.objects.filter(user=user)
    assert (account.kind, account.external_id, account.bank_id) == ("checking", CHECKING.acctid, CHECKING.bankid)
    assert Transaction.objects.filter(account=account).exists()


def test_a_wrong_account_number_links_nothing(user_client, user, demo_bank):
    body = connect_body(demo_bank, account_id="000000000", account_type="SAVINGS", bank_id="123456780")
    response = user_client.post("/api/v1/account", body, format="json")
    assert response.status_code == 400
    assert "Invalid account" in json.dumps(response.json())
    assert not Connection.objects.filter(user=user).exists()
