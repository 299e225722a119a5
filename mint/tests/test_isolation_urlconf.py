"""Every route in the URLconf, every method, as another user: nothing of the victim's is shown or changed.

The sweep signs in as `user` and sends GET, POST, PUT, PATCH and DELETE to each route, with the
victim's ids in the path and in the usual filters. A route that takes an object id answers 404
or 405 for a foreign one; no answer, on any route, carries the victim's canary text; and the
victim's rows are the same afterwards. `test_every_route_has_a_case` fails when a route is
added without a line in ROUTES, so a new page or endpoint cannot skip the sweep.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, Connection, SyncJob
from accounts.tests.factories import AccountFactory, ConnectionFactory
from budgets import services as budget_services
from budgets.models import Budget
from categories.models import Category, UserRule
from notifications.models import Notification
from security.models import ApiToken, AuditEvent
from security.services import api_token_create
from transactions.models import RawPayload, Transaction
from transactions.services import file_upload, transaction_recategorize

pytestmark = pytest.mark.django_db

CANARY = "zq7731canary"
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    """How the sweep reaches a route: `foreign` names the victim's object its id comes from;
    `key` is the path parameter it fills; `kwargs` fills any others; `public` routes need no sign-in."""

    foreign: str | None = None
    key: str = "pk"
    kwargs: tuple[tuple[str, object], ...] = ()
    public: bool = False


OWN = Route()
ROUTES: dict[str, Route] = {
    # Pages
    "dashboard": OWN,
    "signup": Route(public=True),
    "login": Route(public=True),
    "logout": Route(public=True),
    "accounts:list": OWN,
    "accounts:connect": OWN,
    "accounts:connect-simplefin": OWN,
    "accounts:refresh": Route(foreign="connection"),
    "accounts:credentials": Route(foreign="connection"),
    "accounts:disconnect": Route(foreign="connection"),
    "transactions:list": OWN,
    "transactions:category": Route(foreign="transaction", key="txn_id"),
    "transactions:upload": OWN,
    "transactions:upload-preview": Route(foreign="upload"),
    "budgets:list": OWN,
    "budgets:save": OWN,
    "budgets:change": Route(foreign="budget", key="budget_id"),
    "budgets:remove": Route(foreign="budget", key="budget_id"),
    "budgets:recommendations_accept": OWN,
    "budgets:preferences": OWN,
    "categories:rules": OWN,
    "categories:rule": Route(foreign="rule", key="rule_id"),
    "notifications:list": OWN,
    "notifications:preferences": OWN,
    "security:page": OWN,
    "security:api-token-revoke": Route(foreign="api_token", key="token_id"),
    # Signed with the recipient's id: a made-up token is refused, whoever sends it.
    "notifications:unsubscribe": Route(kwargs=(("token", "not-a-token"),), public=True),
    # API
    "api_token": Route(public=True),
    "api_user_data_export": OWN,
    "api_user_delete": OWN,
    "api_password_change": OWN,
    "api_spending_trend": OWN,
    "budget-progress": OWN,
    "transaction-export": Route(kwargs=(("format", "csv"),)),
    "transactions:export": OWN,
    "your_data": OWN,
    "your_data_export": OWN,
    "security:password-change": OWN,
    "security:recovery-codes-regenerate": OWN,
    "security:two-factor-setup": OWN,
    "security:two-factor-disable": OWN,
    # Before sign-in: the reset asks for an email address; the code step for a password first.
    "security:password-reset": Route(public=True),
    "security:password-reset-done": Route(public=True),
    "security:password-reset-confirm": Route(kwargs=(("uidb64", "MQ"), ("token", "set-password")), public=True),
    "security:password-reset-complete": Route(public=True),
    "security:sign-in-code": Route(public=True),
    "api_token_logout": OWN,
    "api_connect": OWN,
    "api_connect_simplefin": OWN,
    "api_spending_current": OWN,
    "api_spending_month": Route(kwargs=(("month", dt.date(2026, 11, 1)),)),
    "api-root": OWN,
    "api_schema": Route(public=True),
    "api_docs": Route(public=True),
    "account-list": OWN,
    "account-detail": Route(foreign="account"),
    "account-refresh": Route(foreign="linked_account"),
    "connection-list": OWN,
    "connection-detail": Route(foreign="connection"),
    "connection-credentials": Route(foreign="connection"),
    "connection-refresh": Route(foreign="connection"),
    "sync-job-list": OWN,
    "sync-job-detail": Route(foreign="job"),
    "institution-list": OWN,
    "transaction-list": OWN,
    "transaction-detail": Route(foreign="transaction"),
    "import-list": OWN,
    "import-detail": Route(foreign="upload"),
    "import-confirm": Route(foreign="upload"),
    "budget-list": OWN,
    "budget-preferences": OWN,
    "budget-recommendations": OWN,
    "budget-recommendations-accept": OWN,
    "budget-detail": Route(foreign="budget"),
    "notification-list": OWN,
    "notification-preferences": OWN,
    "notification-detail": Route(foreign="notification"),
    "notification-read": Route(foreign="notification"),
    "category-list": OWN,
    "rule-list": OWN,
    "rule-detail": Route(foreign="rule"),
    "api-token-list": OWN,
    "api-token-detail": Route(foreign="api_token"),
    "audit-event-list": OWN,
}
# Staff-only: the admin's own login guards it, tested in test_admin_needs_staff.
STAFF_NAMESPACES = {"admin"}


def url_names(patterns=None, namespace: str = "") -> Iterator[str]:
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
            yield from url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def swept_names() -> list[str]:
    return sorted({name for name in url_names() if name.split(":")[0] not in STAFF_NAMESPACES})


def test_every_route_has_a_case():
    missing = sorted(set(swept_names()) - set(ROUTES))
    assert not missing, f"routes without an isolation case in ROUTES: {missing}"
    assert not set(ROUTES) - set(swept_names()), "ROUTES names a route that no longer exists"


@pytest.fixture
def victim(other_user, ingest, django_capture_on_commit_callbacks) -> dict[str, int]:
    account = AccountFactory.create(user=other_user, name=f"Savings {CANARY}")
    connection = ConnectionFactory.create(user=other_user, last_error=f"Bank said {CANARY}")
    linked_account = AccountFactory.create(
        user=other_user, connection=connection, external_id="1234", name=f"Linked {CANARY}"
    )
    job = SyncJob.objects.create(
        connection=connection, user=other_user, trigger=SyncJob.Trigger.LINK, message=f"Job {CANARY}"
    )
    upload = file_upload(
        user=other_user, raw=f"Date,Description,Amount\n2026-11-02,{CANARY},-3.50\n".encode(), filename=f"{CANARY}.csv"
    )
    with django_capture_on_commit_callbacks(execute=True):
        budget, _ = budget_services.budget_set(
            user=other_user, category=Category.objects.get(path="food"), amount=Decimal("10")
        )
    ingest(account, (timezone.localdate(), "-50.00", f"WHOLE FOODS {CANARY}"))
    txn = Transaction.objects.get(user=other_user)
    transaction_recategorize(txn=txn, category=Category.objects.get(path="food/groceries"), always=True)
    api_token = api_token_create(user=other_user, name=f"Phone {CANARY}").token  # and its TOKEN_CREATED event
    return {
        "api_token": api_token.pk,
        "account": account.pk,
        "linked_account": linked_account.pk,
        "connection": connection.pk,
        "job": job.pk,
        "upload": upload.pk,
        "transaction": txn.pk,
        "budget": budget.pk,
        "notification": Notification.objects.get(user=other_user).pk,
        "rule": UserRule.objects.get(user=other_user).pk,
    }


@pytest.fixture
def own_data(user, ingest) -> None:
    """The caller has data of their own, so pages show rows rather than their empty states."""
    ingest(AccountFactory.create(user=user, name="My checking"), (timezone.localdate(), "-12.00", "STARBUCKS #1"))


VICTIM_MODELS: list[type[Model]] = [
    Account,
    Connection,
    SyncJob,
    RawPayload,
    Transaction,
    Budget,
    Notification,
    UserRule,
    ApiToken,
    AuditEvent,
]


def snapshot(user) -> dict[str, list[dict]]:
    """Every row the victim owns, as values, to compare before and after the sweep."""
    rows = {
        model.__name__: list(model._default_manager.filter(user=user).order_by("pk").values())
        for model in VICTIM_MODELS
    }
    rows["User"] = list(type(user).objects.filter(pk=user.pk).values())
    return rows


def path_for(name: str, route: Route, victim: dict[str, int]) -> str:
    kwargs: dict[str, object] = dict(route.kwargs)
    if route.foreign is not None:
        kwargs[route.key] = victim[route.foreign]
    return reverse(name, kwargs=kwargs or None)


def answer_text(response) -> str:
    """The body as text, zip members included: an export must not carry the canary either."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if raw.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            raw = b"".join(archive.read(name) for name in archive.namelist())
    return raw.decode(errors="replace")


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_no_route_and_no_method_reaches_another_users_data(user, other_user, victim, own_data):
    before = snapshot(other_user)
    filters = {"account": victim["account"], "connection": victim["connection"], "q": "WHOLE FOODS"}
    answered = 0
    for name in swept_names():
        route = ROUTES[name]
        path = path_for(name, route, victim)
        for method in METHODS:
            # A fresh sign-in each time: logout and similar routes must not end the sweep.
            client = signed_in(user)
            query = filters if method == "get" else {}
            response = getattr(client, method)(path, query if method == "get" else {}, follow=False)
            answered += 1
            body = answer_text(response)
            where = f"{method.upper()} {path}"
            assert response.status_code < 500, f"{where} answered {response.status_code}"
            assert CANARY not in body, f"{where} shows another user's data"
            if route.foreign is not None:
                assert response.status_code in (404, 405), f"{where} answered {response.status_code}, not 404"
    assert snapshot(other_user) == before
    assert answered == len(swept_names()) * len(METHODS)


@pytest.mark.parametrize("name", [name for name, route in ROUTES.items() if route.foreign is not None])
def test_a_foreign_id_is_a_404_on_some_method(user, victim, name):
    """405 on every method would pass the sweep without proving the lookup is scoped."""
    path = path_for(name, ROUTES[name], victim)
    statuses = {getattr(signed_in(user), method)(path).status_code for method in METHODS}
    assert 404 in statuses


@pytest.mark.parametrize("name", [name for name, route in ROUTES.items() if not route.public])
def test_anonymous_requests_get_nothing(victim, name):
    path = path_for(name, ROUTES[name], victim)
    for method in METHODS:
        response = getattr(APIClient(), method)(path)
        assert CANARY not in answer_text(response)
        if path.startswith("/api/"):
            assert response.status_code in (401, 405), f"{method.upper()} {path}: {response.status_code}"
        else:
            assert response.status_code in (302, 405), f"{method.upper()} {path}: {response.status_code}"
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("login"))


def test_admin_needs_staff(user, victim):
    client = signed_in(user)
    for path in (
        reverse("admin:index"),
        reverse("admin:transactions_transaction_changelist"),
        reverse("admin:transactions_transaction_change", args=[victim["transaction"]]),
    ):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
