"""Budget recommendations: the user's own history (median, rounded), else the income template."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.tests.factories import AccountFactory
from budgets.models import Budget
from budgets.recommendations import budget_recommendations, sensible_amount
from budgets.selectors import current_month

pytestmark = pytest.mark.django_db


def months_ago(count: int) -> dt.date:
    month = current_month()
    index = month.year * 12 + month.month - 1 - count
    return dt.date(index // 12, index % 12 + 1, 10)


@pytest.fixture
def account(user):
    return AccountFactory.create(user=user)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "0.00"),
        ("-3", "0.00"),
        ("0.01", "5.00"),
        ("42.10", "45.00"),
        ("95", "95.00"),
        ("431.20", "440.00"),
        ("1000", "1000.00"),
        ("2061", "2100.00"),
    ],
)
def test_amounts_are_rounded_up_to_what_a_person_would_set(value, expected):
    assert sensible_amount(Decimal(value)) == Decimal(expected)


def test_history_gives_the_median_month_so_one_large_purchase_does_not_inflate_it(user, user_client, account, ingest):
    groceries = [("-400.00", 6), ("-420.00", 5), ("-380.00", 4), ("-410.00", 3), ("-405.00", 2), ("-395.00", 1)]
    ingest(account, *((months_ago(ago), amount, "WHOLE FOODS MKT #10234", f"g{ago}") for amount, ago in groceries))
    ingest(
        account, (months_ago(3), "-2400.00", "BEST BUY 00012345", "tv"), (months_ago(1), "-60.00", "TARGET T-1", "t")
    )
    ingest(account, (current_month(), "-900.00", "WHOLE FOODS MKT #10234", "this-month"))  # not complete: ignored

    body = user_client.get("/api/v1/budgets/recommendations/").json()["results"]
    by_category = {rec["category"]: rec for rec in body}

    assert by_category["food"]["amount"] == "410.00"  # median 402.50, rounded up to $10
    assert by_category["food"]["rule"] == "history"
    assert len(by_category["food"]["months"]) == 6
    assert "402.50" in by_category["food"]["reason"]
    assert "shopping" not in by_category  # spent in 2 of 6 months: the median month spends nothing
    assert by_category["food"]["current_budget"] is None


def test_a_new_user_gets_the_income_template(user, user_client, account, ingest):
    ingest(
        account,
        (months_ago(1), "4000.00", "ACME CORP PAYROLL PPD", "pay1"),
        (months_ago(1), "-20.00", "WHOLE FOODS MKT #10234", "g"),
    )
    body = user_client.get("/api/v1/budgets/recommendations/").json()["results"]
    assert [(rec["category"], rec["amount"], rec["rule"]) for rec in body] == [
        ("housing", "1600.00", "income-template"),
        ("food", "800.00", "income-template"),
        ("shopping", "800.00", "income-template"),
        ("transport/gas", "400.00", "income-template"),
    ]
    assert "40%" in body[0]["reason"]
    assert "4,000.00" in body[0]["reason"]


def test_nothing_to_go_on_gives_no_recommendations(user_client):
    assert user_client.get("/api/v1/budgets/recommendations/").json() == {"results": []}


def test_accept_all_or_some(user, user_client, account, ingest, django_capture_on_commit_callbacks):
    ingest(account, (months_ago(1), "4000.00", "ACME CORP PAYROLL PPD", "pay1"))
    with django_capture_on_commit_callbacks(execute=True):
        some = user_client.post("/api/v1/budgets/recommendations/accept/", {"categories": ["food"]}, format="json")
    assert [(b["category"], b["amount"]) for b in some.json()["results"]] == [("food", "800.00")]

    with django_capture_on_commit_callbacks(execute=True):
        user_client.post("/api/v1/budgets/recommendations/accept/", {}, format="json")
    assert dict(Budget.objects.filter(user=user).values_list("category__path", "amount")) == {
        "housing": Decimal("1600.00"),
        "food": Decimal("800.00"),
        "shopping": Decimal("800.00"),
        "transport/gas": Decimal("400.00"),
    }
    recommended = {rec.category: rec.current_budget for rec in budget_recommendations(user=user)}
    assert recommended["food"] == Decimal("800.00")


def test_accepting_an_unknown_category_changes_nothing(user, user_client, account, ingest):
    ingest(account, (months_ago(1), "4000.00", "ACME CORP PAYROLL PPD", "pay1"))
    response = user_client.post(
        "/api/v1/budgets/recommendations/accept/", {"categories": ["food", "pets"]}, format="json"
    )
    assert response.status_code == 400
    assert "pets" in str(response.json())
    assert not Budget.objects.filter(user=user).exists()


def test_income_the_user_enters_replaces_the_measured_one(user, user_client, account, ingest):
    ingest(account, (months_ago(1), "4000.00", "ACME CORP PAYROLL PPD", "pay1"))
    assert user_client.get("/api/v1/budgets/preferences/").json() == {
        "monthly_income": None,
        "approaching_percent": None,
    }

    changed = user_client.patch("/api/v1/budgets/preferences/", {"monthly_income": "5000"}, format="json")
    assert changed.json() == {"monthly_income": "5000.00", "approaching_percent": None}
    housing = user_client.get("/api/v1/budgets/recommendations/").json()["results"][0]
    assert (housing["category"], housing["amount"]) == ("housing", "2000.00")
    assert "as you entered it" in housing["reason"]

    user_client.patch("/api/v1/budgets/preferences/", {"monthly_income": None}, format="json")  # back to measuring
    housing = user_client.get("/api/v1/budgets/recommendations/").json()["results"][0]
    assert housing["amount"] == "1600.00"
    assert user_client.patch("/api/v1/budgets/preferences/", {"monthly_income": "-1"}, format="json").status_code == 400


def test_entered_income_alone_is_enough_for_the_template(user_client):
    user_client.patch("/api/v1/budgets/preferences/", {"monthly_income": "3000"}, format="json")
    body = user_client.get("/api/v1/budgets/recommendations/").json()["results"]
    assert [(rec["category"], rec["amount"]) for rec in body][:2] == [("housing", "1200.00"), ("food", "600.00")]
