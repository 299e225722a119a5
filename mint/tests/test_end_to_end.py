"""Connect -> extract -> categorize -> aggregate -> widget -> alert, over a loopback OFX connection."""

from decimal import Decimal

import pytest
from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import Connection, SyncJob
from accounts.services import sync_job_request
from budgets.models import BudgetAlert
from categories.models import Category, CategorySource
from mint.tests.factories import USER_PASSWORD
from notifications.models import Notification
from transactions.models import MonthlySpending, RawPayload, Transaction

pytestmark = pytest.mark.django_db


def test_the_whole_pipeline_for_a_real_user(
    api_client, user, demo_bank, mailoutbox, django_capture_on_commit_callbacks
):
    token = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": USER_PASSWORD}).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token['token']}")
    # Rent is paid on the 1st, so this month always crosses a one-dollar rent budget.
    assert api_client.post("/api/v1/budgets/", {"category": "housing/rent", "amount": "1.00"}).status_code == 201

    with django_capture_on_commit_callbacks(execute=True):
        connect = api_client.post(
            "/api/v1/account",
            {
                "user_id": user.username,
                "account_url": demo_bank.url,
                "account_login": "alice",
                "account_password": demo_bank.password,
            },
        )
    assert connect.status_code == 201, connect.content

    # Extract: the raw payload was kept, and the first sync fetched the initial window.
    assert RawPayload.objects.get(user=user).status == RawPayload.Status.IMPORTED
    txns = Transaction.objects.filter(user=user)
    assert txns.count() > 50

    # Categorize: the demo history needs no help from the user.
    fallback = txns.filter(category_source=CategorySource.FALLBACK).count()
    assert fallback / txns.count() < 0.05
    assert (
        not txns.filter(description="PAYMENT THANK YOU - WEB").exclude(category__kind=Category.Kind.TRANSFER).exists()
    )

    # Aggregate: monthly_spending equals a recompute from the rows, for every month and category.
    # (Quantized: SQLite sums a decimal column in floating point.)
    recomputed = {
        (row["posted_month"], row["category"]): row["total"].quantize(Decimal("0.01"))
        for row in txns.values("category")
        .annotate(posted_month=TruncMonth("posted_on"))
        .values("posted_month", "category")
        .annotate(total=Sum("amount"))
    }
    stored = {(row.month, row.category_id): row.amount for row in MonthlySpending.objects.filter(user=user)}
    assert stored == recomputed

    # Widget: this month's total is the spending categories' money out, refunds netted.
    month = timezone.localdate().replace(day=1)
    widget = api_client.get("/api/v1/spending/current").json()
    expected = -sum(
        (
            amount
            for (m, category_id), amount in stored.items()
            if m == month and Category.objects.get(pk=category_id).is_spending
        ),
        Decimal("0"),
    )
    assert Decimal(widget["total"]) == expected
    assert widget["categories"]["housing/rent"] == str(-stored[(month, Category.objects.get(path="housing/rent").pk)])

    # Alert: the import went straight past 100 %: both levels recorded, one notice in the app and by email,
    # beside the in-app notice that the import finished.
    notices = api_client.get("/api/v1/notifications/").json()["results"]
    assert sorted((n["kind"], n["category"], n["level"]) for n in notices) == [
        ("budget.exceeded", "housing/rent", "exceeded"),
        ("import.finished", None, None),
    ]
    assert sorted(BudgetAlert.objects.filter(user=user).values_list("level", flat=True)) == ["approaching", "exceeded"]
    assert [message.subject for message in mailoutbox] == ["You've gone over your Rent budget"]

    # A refresh of the same connection replays the overlap window and changes nothing.
    before = list(MonthlySpending.objects.filter(user=user).values_list("month", "category_id", "amount", "txn_count"))
    with django_capture_on_commit_callbacks(execute=True):
        sync_job_request(connection=Connection.objects.get(user=user), trigger=SyncJob.Trigger.DAILY)
    after = list(MonthlySpending.objects.filter(user=user).values_list("month", "category_id", "amount", "txn_count"))
    assert after == before
    assert Notification.objects.filter(user=user).count() == 2  # nothing new: no notice
