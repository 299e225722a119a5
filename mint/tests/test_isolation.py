"""One user can neither read nor change another's data, on every API route."""

import csv
import io
import zipfile
from decimal import Decimal

import pytest
from django.urls import URLPattern, reverse
from django.utils import timezone

from accounts.models import Account, Connection, SyncJob
from accounts.tests.factories import AccountFactory, ConnectionFactory
from budgets import services as budget_services
from budgets.models import Budget, BudgetProfile
from categories.models import Category, UserRule
from mint.api import build_router
from notifications.models import Notification, NotificationPreferences
from security.services import api_token_create
from transactions.models import RawPayload, Transaction
from transactions.services import file_upload, transaction_recategorize

pytestmark = pytest.mark.django_db


@pytest.fixture
def victim_data(other_user, ingest, django_capture_on_commit_callbacks):
    account = AccountFactory.create(user=other_user)
    connection = ConnectionFactory.create(user=other_user)
    linked_account = AccountFactory.create(user=other_user, connection=connection, external_id="1234")
    job = SyncJob.objects.create(connection=connection, user=other_user, trigger=SyncJob.Trigger.LINK)
    upload = file_upload(user=other_user, raw=b"Date,Description,Amount\n2026-11-02,COFFEE,-3.50\n", filename="a.csv")
    with django_capture_on_commit_callbacks(execute=True):
        budget, _ = budget_services.budget_set(
            user=other_user, category=Category.objects.get(path="food"), amount=Decimal("10")
        )
    ingest(account, (timezone.localdate(), "-50.00", "WHOLE FOODS MKT #10234"))
    victim_txn = Transaction.objects.get(user=other_user)
    transaction_recategorize(txn=victim_txn, category=Category.objects.get(path="food/groceries"), always=True)
    api_token = api_token_create(user=other_user, name="Their phone").token  # also their TOKEN_CREATED event
    return {
        "api_token": api_token.pk,
        "account": account.pk,
        "transaction": Transaction.objects.get(user=other_user).pk,
        "budget": budget.pk,
        "notification": Notification.objects.get(user=other_user).pk,
        "rule": UserRule.objects.get(user=other_user).pk,
        "connection": connection.pk,
        "linked_account": linked_account.pk,
        "job": job.pk,
        "upload": upload.pk,
    }


# Every route the router generates, by URL name. The coverage test fails when a route is added
# without a case here, so a new endpoint cannot skip isolation.
DETAIL_CASES = [
    ("account-detail", "get", "account", None),
    ("transaction-detail", "get", "transaction", None),
    ("transaction-detail", "patch", "transaction", {"category": "food/dining"}),
    ("budget-detail", "get", "budget", None),
    ("budget-detail", "put", "budget", {"amount": "999.00"}),
    ("budget-detail", "delete", "budget", None),
    ("notification-detail", "get", "notification", None),
    ("notification-read", "post", "notification", None),
    ("rule-detail", "get", "rule", None),
    ("rule-detail", "patch", "rule", {"category": "food/dining"}),
    ("rule-detail", "delete", "rule", None),
    ("account-refresh", "post", "linked_account", None),
    ("connection-detail", "get", "connection", None),
    ("connection-detail", "delete", "connection", {"history": "delete"}),
    ("connection-refresh", "post", "connection", None),
    ("connection-credentials", "put", "connection", {"login": "me", "password": "mine"}),
    ("sync-job-detail", "get", "job", None),
    ("import-detail", "get", "upload", None),
    ("import-confirm", "post", "upload", {"account_name": "Mine"}),
    ("api-token-detail", "delete", "api_token", None),
]
LIST_CASES = [
    "account-list",
    "connection-list",
    "sync-job-list",
    "import-list",
    "transaction-list",
    "budget-list",
    "budget-recommendations",
    "budget-progress",
    "notification-list",
    "rule-list",
    "api-token-list",
    "audit-event-list",
]
SHARED_ROUTES = {"category-list", "institution-list"}  # the same for everyone
# Routes that take no object id, with a test of their own below.
OWN_DATA_ROUTES = {
    "budget-recommendations-accept",
    "budget-preferences",
    "notification-preferences",
    "transaction-export",  # test_exports_hold_only_the_callers_rows
}
# Routes outside the router that read or delete the caller's own data, each with a test below.
USER_DATA_ROUTES = {"api_user_data_export": "/api/v1/me/export", "api_user_delete": "/api/v1/me/delete"}


def test_every_router_route_has_an_isolation_case():
    routes = {pattern.name for pattern in build_router().urls if isinstance(pattern, URLPattern) and pattern.name} - {
        "api-root"
    }
    covered = {name for name, *_ in DETAIL_CASES} | set(LIST_CASES) | SHARED_ROUTES | OWN_DATA_ROUTES
    assert routes <= covered, f"routes without an isolation case: {sorted(routes - covered)}"


@pytest.mark.parametrize(("name", "method", "object_kind", "body"), DETAIL_CASES)
def test_another_users_object_is_a_404(user_client, victim_data, name, method, object_kind, body):
    path = reverse(name, kwargs={"pk": victim_data[object_kind]})
    response = getattr(user_client, method)(path, body, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("name", LIST_CASES)
def test_lists_hold_only_the_callers_rows(user_client, victim_data, name):
    assert user_client.get(reverse(name)).json()["results"] == []


def test_filters_do_not_reach_another_users_rows(user_client, victim_data):
    response = user_client.get("/api/v1/transactions/", {"account": victim_data["account"]})
    assert response.json()["results"] == []


def test_accepting_recommendations_uses_and_changes_only_the_callers_data(user_client, victim_data, other_user):
    response = user_client.post(reverse("budget-recommendations-accept"), {}, format="json")
    assert response.json()["results"] == []
    assert list(other_user.budgets.values_list("category__path", "amount")) == [("food", Decimal("10.00"))]


def test_notification_preferences_are_the_callers_own(user_client, victim_data, other_user):
    user_client.put("/api/v1/notifications/preferences/", {"email_enabled": False}, format="json")
    assert NotificationPreferences.objects.filter(user=other_user).exists() is False
    assert user_client.get("/api/v1/notifications/preferences/").json()["email_enabled"] is False


def test_monthly_income_is_the_callers_own(user_client, victim_data, other_user):
    user_client.patch("/api/v1/budgets/preferences/", {"monthly_income": "123.00"}, format="json")
    assert not BudgetProfile.objects.filter(user=other_user).exists()


def test_spending_is_the_callers_own(user_client, victim_data):
    assert user_client.get("/api/v1/spending/current").json()["total"] == "0.00"


def test_nothing_was_changed(user_client, victim_data):
    user_client.patch(f"/api/v1/transactions/{victim_data['transaction']}/", {"category": "food/dining"}, format="json")
    user_client.post(f"/api/v1/notifications/{victim_data['notification']}/read/")
    user_client.patch(f"/api/v1/rules/{victim_data['rule']}/", {"category": "food/dining"}, format="json")
    user_client.delete(f"/api/v1/rules/{victim_data['rule']}/")
    user_client.put(f"/api/v1/budgets/{victim_data['budget']}/", {"amount": "999.00"}, format="json")
    user_client.delete(f"/api/v1/budgets/{victim_data['budget']}/")
    assert Transaction.objects.get(pk=victim_data["transaction"]).category.path == "food/groceries"
    assert Notification.objects.get(pk=victim_data["notification"]).read_at is None
    assert UserRule.objects.get(pk=victim_data["rule"]).category.path == "food/groceries"
    assert Budget.objects.get(pk=victim_data["budget"]).amount == Decimal("10.00")


def test_linking_and_uploads_touch_nothing_of_another_user(user_client, victim_data):
    user_client.delete(f"/api/v1/connections/{victim_data['connection']}/?history=delete")
    user_client.post(f"/api/v1/connections/{victim_data['connection']}/refresh")
    user_client.post(f"/api/v1/accounts/{victim_data['linked_account']}/refresh")
    user_client.post(f"/api/v1/imports/{victim_data['upload']}/confirm", {"account_name": "Mine"}, format="json")
    assert Connection.objects.filter(pk=victim_data["connection"]).exists()
    assert SyncJob.objects.filter(connection_id=victim_data["connection"]).count() == 1
    assert RawPayload.objects.get(pk=victim_data["upload"]).status == RawPayload.Status.RECEIVED


def test_an_account_name_in_a_body_names_the_callers_own_account(user_client, user, other_user, victim_data):
    """Bodies reference accounts by name, never by id: another user's account name makes an
    account of the caller's own and leaves theirs alone."""
    victim_account = Account.objects.get(pk=victim_data["account"])
    before = victim_account.transactions.count()
    csv_file = io.BytesIO(b"Date,Description,Amount\n2026-11-03,MY TEA,-2.00\n")
    csv_file.name = "mine.csv"
    upload = user_client.post("/api/v1/imports/", {"file": csv_file}, format="multipart").json()
    response = user_client.post(
        f"/api/v1/imports/{upload['upload']['id']}/confirm", {"account_name": victim_account.name}, format="json"
    )
    assert response.status_code == 201
    assert victim_account.transactions.count() == before
    mine = Account.objects.get(user=user, name=victim_account.name)
    assert list(mine.transactions.values_list("description", flat=True)) == ["MY TEA"]


def test_exports_hold_only_the_callers_rows(user_client, client, user, victim_data, ingest):
    ingest(AccountFactory.create(user=user, name="Mine"), (timezone.localdate(), "-1.00", "MY OWN COFFEE"))
    by_filter = user_client.get("/api/v1/transactions/export.csv", {"account": victim_data["account"]})
    assert b"".join(by_filter.streaming_content).decode().count("\r\n") == 1  # the header alone
    client.force_login(user)
    for response in (user_client.get("/api/v1/transactions/export.csv"), client.get("/transactions/export.csv")):
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()[1:])))
        assert [row["description"] for row in rows] == ["MY OWN COFFEE"]
    for response in (
        user_client.get(USER_DATA_ROUTES["api_user_data_export"]),
        client.get("/settings/data/export.zip"),
    ):
        bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        everything = b"".join(bundle.read(name) for name in bundle.namelist())
        assert b"MY OWN COFFEE" in everything
        assert b"WHOLE FOODS" not in everything
        assert b"a.csv" not in everything  # their upload


def test_deleting_an_account_deletes_only_the_callers(user_client, user, victim_data, other_user):
    from mint.tests.factories import USER_PASSWORD

    assert user_client.post(USER_DATA_ROUTES["api_user_delete"], {"password": USER_PASSWORD}).status_code == 204
    assert Transaction.objects.filter(pk=victim_data["transaction"]).exists()
    assert Connection.objects.filter(pk=victim_data["connection"]).exists()
    their_file = RawPayload.objects.get(pk=victim_data["upload"]).file
    assert their_file.storage.exists(str(their_file.name))


ANONYMOUS_CASES = [
    *USER_DATA_ROUTES.values(),
    "/api/v1/transactions/export.csv",
    "/api/v1/accounts/",
    "/api/v1/transactions/",
    "/api/v1/budgets/",
    "/api/v1/notifications/",
    "/api/v1/connections/",
    "/api/v1/sync-jobs/",
    "/api/v1/imports/",
    "/api/v1/institutions/",
    "/api/v1/spending/current",
    "/api/v1/spending/2026-01/",
]


@pytest.mark.parametrize("path", ANONYMOUS_CASES)
def test_anonymous_requests_are_refused(api_client, path):
    assert api_client.get(path).status_code == 401
