import datetime as dt

import pytest
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from budgets.models import Budget
from budgets.progress import budget_progress

pytestmark = pytest.mark.django_db


def test_post_creates_then_replaces_a_categorys_budget(user_client, user):
    created = user_client.post("/api/v1/budgets/", {"category": "food/groceries", "amount": "100.00"}, format="json")
    assert created.status_code == 201
    assert created.json()["category"] == "food/groceries"
    assert created.json()["amount"] == "100.00"

    replaced = user_client.post("/api/v1/budgets/", {"category": "food/groceries", "amount": "150.00"}, format="json")
    assert replaced.status_code == 200
    assert Budget.objects.get(user=user).amount == 150

    listing = user_client.get("/api/v1/budgets/").json()
    assert listing["count"] == 1
    assert user_client.get(f"/api/v1/budgets/{created.json()['id']}/").json()["amount"] == "150.00"


def test_a_parent_category_can_have_a_budget(user_client):
    response = user_client.post("/api/v1/budgets/", {"category": "food", "amount": "600"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "food/caviar", "amount": "10"}, "category"),
        ({"category": "income/paycheck", "amount": "10"}, "category"),
        ({"category": "food", "amount": "0"}, "amount"),
        ({"category": "food", "amount": "-5"}, "amount"),
        ({"category": "food", "amount": "abc"}, "amount"),
    ],
)
def test_invalid_budgets_are_400s_naming_the_field(user_client, body, field):
    response = user_client.post("/api/v1/budgets/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Budget.objects.exists()


def test_progress_answers_what_the_budgets_page_shows(user_client, user, ingest):
    today = timezone.localdate()
    ingest(AccountFactory.create(user=user), (today, "-90.00", "WHOLE FOODS MKT #10234"))
    user_client.post("/api/v1/budgets/", {"category": "food", "amount": "100.00"}, format="json")

    body = user_client.get("/api/v1/budgets/progress/").json()

    assert body["month"] == f"{today:%Y-%m}"
    [row] = body["results"]
    expected = budget_progress(user=user, today=today)[0]
    assert row["category"] == "food"
    assert row["spent"] == "90.00"
    assert row["remaining"] == "10.00"
    assert row["percent_used"] == 90
    assert row["state"] == "near"
    assert row["projected"] == f"{expected.projected:.2f}"


def test_the_trend_is_twelve_months_ending_with_the_one_asked_for(user_client, user, ingest):

    account = AccountFactory.create(user=user)
    ingest(
        account,
        (dt.date(2026, 3, 4), "-40.00", "SHELL OIL 57444212"),
        (dt.date(2026, 3, 5), "2850.00", "ACME CORP PAYROLL PPD"),
    )

    body = user_client.get("/api/v1/spending/trend/", {"end": "2026-04"}).json()

    months = body["results"]
    assert [row["month"] for row in months][-2:] == ["2026-03", "2026-04"]
    assert len(months) == 12
    assert months[-2] == {"month": "2026-03", "spending": "40.00", "income": "2850.00"}
    assert months[-1] == {"month": "2026-04", "spending": "0.00", "income": "0.00"}
    bad = user_client.get("/api/v1/spending/trend/", {"end": "2026-13"})
    assert bad.status_code == 400
    assert bad.json()["end"] == ["Give a month as YYYY-MM."]
