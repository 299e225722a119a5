"""A user's data as a whole: the zip of CSV files, and deleting the account with everything in it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import models
from django.test import Client
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import async_task
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.credentials import credentials_decrypt
from accounts.models import Connection, SyncJob
from accounts.tests.factories import AccountFactory
from budgets import services as budget_services
from budgets.selectors import budgets_cache_key, spending_for_month
from categories.models import Category
from mint.models import User
from mint.tasks import schedule_once
from mint.tests.factories import USER_PASSWORD
from mint.user_data import EXPORT_TABLES
from security.models import AuditEvent
from security.services import api_token_create
from transactions.models import RawPayload, Transaction, raw_payload_storage
from transactions.selectors import spending_cache_key, spending_last_known_key
from transactions.services import file_import, transaction_recategorize

pytestmark = pytest.mark.django_db

HOSTILE_CSV = (
    b"Date,Description,Amount\r\n"
    b'2026-11-02,=HYPERLINK("http://evil.example"),-12.50\r\n'
    b"2026-11-03,WHOLE FOODS MKT #10234,-50.00\r\n"
    b"2026-11-04,-99.99,10.00\r\n"
)


@pytest.fixture
def person(user, demo_bank, django_capture_on_commit_callbacks):
    """A user with a bit of everything: a linked bank (sync jobs, raw payloads, notices), an
    uploaded file, a budget, a rule, sessions on two devices, an API token, cached spending,
    and django-q2 rows (a finished task, a queued one, a scheduled retry) naming their ids."""
    with django_capture_on_commit_callbacks(execute=True):
        connection = account_services.connection_create(
            user=user, url=demo_bank.url, login="alice", password=demo_bank.password
        )
        file_import(user=user, account_name="Shoebox", raw=HOSTILE_CSV, filename="statement.csv")
        budget_services.budget_set(user=user, category=Category.objects.get(path="food"), amount=Decimal("300"))
    txn = Transaction.objects.get(user=user, account__name="Shoebox", description__startswith="WHOLE FOODS")
    with django_capture_on_commit_callbacks(execute=True):
        transaction_recategorize(txn=txn, category=Category.objects.get(path="food/groceries"), always=True)
    job = SyncJob.objects.filter(connection=connection).latest("created_at")
    async_task("budgets.tasks.spending_changed", user.pk, [], sync=False)  # waiting in the ORM broker
    schedule_once("transactions.tasks.sync_job_run", job.pk, at=timezone.now() + dt.timedelta(hours=1))
    spending_for_month(user=user)  # cached
    phone, laptop = Client(), Client()
    phone.force_login(user)
    laptop.force_login(user)
    api_token_create(user=user, name="phone")
    return connection


@pytest.fixture
def bystander(other_user, ingest, django_capture_on_commit_callbacks):
    """Someone else, whose data must come through every export and deletion untouched."""
    ingest(AccountFactory.create(user=other_user, name="Theirs"), (timezone.localdate(), "-7.77", "NOT YOURS CAFE"))
    with django_capture_on_commit_callbacks(execute=True):
        budget_services.budget_set(user=other_user, category=Category.objects.get(path="food"), amount=Decimal("5"))
    Client().force_login(other_user)
    return other_user


def unzip(response) -> tuple[dict[str, list[dict[str, str]]], bytes]:
    """The CSV files of the zip, read as a spreadsheet would, and the zip itself."""
    body = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as bundle:
        assert bundle.testzip() is None
        tables = {}
        for name in bundle.namelist():
            if name.endswith(".csv"):
                text = bundle.read(name).decode("utf-8")
                assert text.startswith("\ufeff")
                tables[name] = list(csv.DictReader(io.StringIO(text[1:])))
        assert "transactions.csv" in bundle.read("README.txt").decode()
        return tables, body


# Export --------------------------------------------------------------------------------------


def test_the_zip_holds_every_table_neutralised_and_no_credentials(client, user, person, bystander):
    client.force_login(user)
    response = client.get("/settings/data/export.zip")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="mint-data-')
    tables, body = unzip(response)
    assert set(tables) == {table.filename for table in EXPORT_TABLES}
    transactions = tables["transactions.csv"]
    assert len(transactions) == Transaction.objects.filter(user=user).count()
    descriptions = {row["description"]: row["amount"] for row in transactions}
    assert descriptions['\'=HYPERLINK("http://evil.example")'] == "-12.50"
    assert descriptions["'-99.99"] == "10.00"  # text that looks like a number stays text; amounts are numbers
    assert [row["category"] for row in tables["budgets.csv"]] == ["food"]
    assert [(row["merchant"], row["category"]) for row in tables["rules.csv"]] == [
        ("Whole Foods Market", "food/groceries")
    ]
    assert tables["connections.csv"][0]["server"] == person.url
    assert {row["name"] for row in tables["accounts.csv"]} >= {"Shoebox"}
    assert tables["monthly_spending.csv"]
    assert tables["statement_uploads.csv"][0]["filename"] == "statement.csv"

    # Nothing of the login, in any form, and nothing of anyone else.
    secret = credentials_decrypt(Connection.objects.get(pk=person.pk).encrypted_credentials)
    everything = b"".join(
        zipfile.ZipFile(io.BytesIO(body)).read(name) for name in zipfile.ZipFile(io.BytesIO(body)).namelist()
    )
    for needle in (secret.password, person.encrypted_credentials, "NOT YOURS", "Theirs"):
        assert needle.encode() not in everything


def test_the_export_is_audited_with_row_counts(client, user, person):
    client.force_login(user)
    b"".join(client.get("/settings/data/export.zip").streaming_content)

    [event] = AuditEvent.objects.filter(user=user, action=AuditEvent.Action.EXPORT)
    assert event.detail["what"] == "all data"
    assert event.detail["rows"]["transactions.csv"] == Transaction.objects.filter(user=user).count()
    assert "WHOLE FOODS" not in str(event.detail)


@pytest.mark.parametrize("path", ["/api/v1/me/export", "/api/v1/me/export.zip", "/api/v1/me/export/"])
def test_the_api_export_is_the_same_zip(user_client, user, person, bystander, path):
    response = user_client.get(path, HTTP_ACCEPT="application/zip")
    assert response.status_code == 200
    tables, _ = unzip(response)
    assert len(tables["transactions.csv"]) == Transaction.objects.filter(user=user).count()


def test_an_anonymous_export_is_refused(client, api_client):
    assert client.get("/settings/data/export.zip")["Location"].startswith("/login/")
    assert api_client.get("/api/v1/me/export").status_code == 401


# Delete --------------------------------------------------------------------------------------


def user_relations() -> list[tuple[type[models.Model], str]]:
    """Every (model, field) in the project that points at a user, whatever the app."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if field.is_relation and field.concrete and field.related_model is User
    ]


def what_remains(user_id: int) -> dict[str, int]:
    remains = {
        f"{model._meta.label}.{name}": model._default_manager.filter(**{name: user_id}).count()
        for model, name in user_relations()
    }
    remains["sessions"] = sum(
        1 for session in Session.objects.all() if session.get_decoded().get(SESSION_KEY) == str(user_id)
    )
    return {where: count for where, count in remains.items() if count}


def task_arguments() -> list[tuple[str, tuple]]:
    rows = [(task.func, tuple(task.args or ())) for task in Task.objects.all()]
    rows += [(entry.func, entry.args) for entry in Schedule.objects.all()]
    rows += [(queued.task["func"], tuple(queued.task["args"])) for queued in OrmQ.objects.all()]
    return rows


def test_deleting_the_account_removes_every_trace(client, user, person, bystander, django_capture_on_commit_callbacks):
    user_id, username = user.pk, user.username
    month = timezone.localdate().replace(day=1)
    payload_files = list(RawPayload.objects.filter(user=user).values_list("file", flat=True))
    job_ids = set(SyncJob.objects.filter(user=user).values_list("pk", flat=True))
    storage = raw_payload_storage()
    # Everything the test will check for really is there before.
    assert set(what_remains(user_id)) >= {
        "transactions.Transaction.user",
        "accounts.Connection.user",
        "notifications.Notification.user",
        "security.ApiToken.user",
        "sessions",
    }
    assert payload_files
    assert all(storage.exists(name) for name in payload_files)
    assert cache.get(spending_cache_key(user_id, month)) is not None
    assert any(
        args and args[0] == user_id for func, args in task_arguments() if func == "budgets.tasks.spending_changed"
    )
    assert Schedule.objects.filter(func="transactions.tasks.sync_job_run").exists()
    theirs_before = what_remains(bystander.pk)
    client.force_login(user)
    b"".join(client.get("/settings/data/export.zip").streaming_content)  # an audit event that must outlive the user

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/settings/data/", {"password": USER_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert not User.objects.filter(pk=user_id).exists()
    assert what_remains(user_id) == {}
    assert Connection.objects.filter(user_id=user_id).count() == 0
    for func, args in task_arguments():
        assert not (func == "budgets.tasks.spending_changed" and args and args[0] == user_id)
        assert not (func == "transactions.tasks.sync_job_run" and str(args).strip("(),") in {str(pk) for pk in job_ids})
    assert not any(storage.exists(name) for name in payload_files)
    assert not storage.exists(str(user_id))
    assert cache.get(spending_cache_key(user_id, month)) is None
    assert cache.get(spending_last_known_key(user_id, month)) is None
    assert cache.get(budgets_cache_key(user_id)) is None
    if hasattr(cache, "keys"):  # Redis: nothing at all keyed by the id
        assert cache.keys(f"*:{user_id}:*") == []
        assert cache.keys(f"*:{user_id}") == []

    # The audit log says it happened, and to whom, without a link to a user row.
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_DELETED)
    assert event.user_id is None
    assert event.detail["username"] == username
    assert event.detail["rows"] > 10
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, user__isnull=True).count() == 1

    # The other user kept everything; the old session no longer opens anything.
    assert what_remains(bystander.pk) == theirs_before
    assert client.get("/transactions/")["Location"].startswith("/login/")


def test_a_wrong_password_deletes_nothing(client, user, person):
    client.force_login(user)
    before = what_remains(user.pk)

    response = client.post("/settings/data/", {"password": "not it"})

    assert response.status_code == 200
    assert "That is not your password." in response.content.decode()
    assert what_remains(user.pk) == before
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_DELETED).exists()


def test_deleting_through_the_api(user, person, bystander, django_capture_on_commit_callbacks):
    token = api_token_create(user=user, name="phone app").key
    phone = APIClient()
    phone.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert phone.post("/api/v1/me/delete", {"password": "wrong"}, format="json").status_code == 400
    assert User.objects.filter(pk=user.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post("/api/v1/me/delete", {"password": USER_PASSWORD}, format="json")

    assert response.status_code == 204
    assert what_remains(user.pk) == {}
    assert phone.get("/api/v1/transactions/").status_code == 401  # the token went with the account
    assert User.objects.filter(pk=bystander.pk).exists()


def test_the_settings_page_offers_both(client, user):
    client.force_login(user)
    page = client.get("/settings/data/").content.decode()
    assert 'href="/settings/data/export.zip"' in page
    assert 'name="password"' in page
    assert 'href="/settings/data/"' in client.get("/notifications/settings/").content.decode()
