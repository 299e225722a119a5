"""The dashboard page (widget, 12-month trend, breakdown, month navigation) and the transactions page's filters."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from budgets import selectors, services
from categories.models import Category

pytestmark = pytest.mark.django_db

JAN, FEB, MAR = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)


@pytest.fixture
def history(user, ingest):
    """January: groceries less a refund, a paycheck, a card payment (a transfer); February: nothing; March: gas."""
    account = AccountFactory(user=user, name="Everyday Checking")
    ingest(
        account,
        (dt.date(2026, 1, 5), "-100.00", "WHOLE FOODS MKT #10234"),
        (dt.date(2026, 1, 9), "20.00", "WHOLE FOODS MKT #10234"),
        (dt.date(2026, 1, 15), "2850.00", "ACME CORP PAYROLL PPD"),
        (dt.date(2026, 1, 20), "-400.00", "CHASE CREDIT CRD AUTOPAY"),
        (dt.date(2026, 3, 9), "-48.10", "SHELL OIL 57444212"),
        (dt.date(2026, 3, 12), "-5.75", "SQ *BLUE BOTTLE COFFE"),
    )
    return account


def test_trend_is_spending_less_refunds_and_income_per_month_oldest_first(user, history):
    trend = selectors.spending_trend(user=user, end_month=MAR, months=3)
    assert [(row.month, row.spending, row.income) for row in trend] == [
        (JAN, Decimal("80.00"), Decimal("2850.00")),
        (FEB, Decimal("0.00"), Decimal("0.00")),
        (MAR, Decimal("53.85"), Decimal("0.00")),
    ]


def test_trend_has_twelve_months_by_default_across_a_year_boundary(user, history):
    trend = selectors.spending_trend(user=user, end_month=dt.date(2026, 3, 17))
    assert len(trend) == 12
    assert (trend[0].month, trend[-1].month) == (dt.date(2025, 4, 1), MAR)
    assert [row.spending for row in trend if row.spending] == [Decimal("80.00"), Decimal("53.85")]


def test_trend_is_one_query_on_the_aggregates_never_the_transactions(user, history):
    with CaptureQueriesContext(connection) as queries:
        selectors.spending_trend(user=user, end_month=MAR)
    assert len(queries) == 1
    sql = queries[0]["sql"]
    assert "monthly_spending" in sql
    assert "transactions_transaction" not in sql


def test_dashboard_shows_the_chosen_month_with_its_trend_and_breakdown_tables(logged_in, history):
    page = logged_in.get("/?month=2026-03").content.decode()
    assert "Spending in March 2026" in page
    assert "$53.85" in page
    # The tables are the content; the charts draw the same numbers from json_script.
    assert 'id="trend-table"' in page
    assert 'id="breakdown-table"' in page
    assert "<canvas" in page
    assert "$2,850.00" in page  # January's income, in the trend table
    assert "$80.00" in page  # January's spending, net of the refund
    assert '<script id="dashboard-data" type="application/json">' in page
    assert "vendor/chart.js/chart.umd.min.js" in page
    assert "js/dashboard.js" in page
    assert "<script>" not in page  # no inline script: the page works under a strict CSP


def test_dashboard_chart_data_matches_the_tables(logged_in, history):
    response = logged_in.get("/?month=2026-03")
    data = json.loads(
        response.content.decode().split('<script id="dashboard-data" type="application/json">')[1].split("</script>")[0]
    )
    assert data["trend"]["months"][-3:] == ["2026-01", "2026-02", "2026-03"]
    assert data["trend"]["spending"][-3:] == ["80.00", "0.00", "53.85"]
    assert data["trend"]["income"][-3] == "2850.00"
    assert data["breakdown"] == {"labels": ["Transport", "Food"], "amounts": ["48.10", "5.75"]}


def test_month_navigation_links_to_the_neighbouring_months(logged_in, history):
    page = logged_in.get("/?month=2026-01").content.decode()
    assert 'href="?month=2025-12" rel="prev"' in page
    assert 'href="?month=2026-02" rel="next"' in page
    assert "Spending in January 2026" in page
    assert "$80.00" in page


def test_there_is_no_next_month_after_the_current_one(logged_in):
    this_month = timezone.localdate().replace(day=1)
    page = logged_in.get("/").content.decode()
    assert f"Spending in {this_month:%B %Y}" in page
    assert 'rel="next"' not in page
    assert 'rel="prev"' in page


@pytest.mark.parametrize("month", ["2026-13", "nonsense", "9999-12", "2026-1", "-2026-01", ""])
def test_an_invalid_month_shows_the_current_month(logged_in, month):
    response = logged_in.get("/", {"month": month})
    assert response.status_code == 200
    assert f"Spending in {timezone.localdate():%B %Y}" in response.content.decode()


def test_budgets_show_spent_against_the_budget_parent_including_children(logged_in, user, history):
    services.budget_set(user=user, category=Category.objects.get(path="transport"), amount=Decimal("40.00"))
    services.budget_set(user=user, category=Category.objects.get(path="food/coffee"), amount=Decimal("50.00"))
    page = logged_in.get("/?month=2026-03").content.decode()
    assert '$48.10<span class="muted"> of $40.00</span>' in page
    assert "$8.10 over budget" in page
    assert "$44.25 left · 12%" in page


def test_another_users_data_never_shows(logged_in, other_user, ingest, history):
    ingest(
        AccountFactory(user=other_user, name="Secret Savings"),
        (dt.date(2026, 3, 2), "-777.77", "TIFFANY & CO 0042 NEW YORK NY"),
        (dt.date(2026, 2, 2), "9999.00", "OTHER CORP PAYROLL PPD"),
    )
    page = logged_in.get("/?month=2026-03").content.decode()
    assert "777.77" not in page
    assert "9,999.00" not in page
    assert "9999.00" not in page
    assert "TIFFANY" not in page
    assert "Secret Savings" not in page
    assert "$53.85" in page


# The transactions page: filters (names fixed by the API), pagination that keeps them.


def test_transactions_filter_form_has_a_labelled_input_for_every_api_filter(logged_in, history):
    page = logged_in.get("/transactions/").content.decode()
    for name, input_id in [
        ("q", "f-q"),
        ("month", "f-month"),
        ("account", "f-account"),
        ("category", "f-category"),
        ("merchant", "f-merchant"),
        ("amount_min", "f-amount-min"),
        ("amount_max", "f-amount-max"),
    ]:
        assert f'id="{input_id}"' in page
        assert f'name="{name}"' in page
        assert f'<label for="{input_id}">' in page
    assert f'<option value="{history.id}">Everyday Checking' in page


def test_transactions_search_and_amount_range_filter_the_list(logged_in, history):
    page = logged_in.get("/transactions/", {"q": "shell"}).content.decode()
    assert "SHELL OIL" in page
    assert "WHOLE FOODS" not in page
    page = logged_in.get("/transactions/", {"amount_min": "20", "amount_max": "100"}).content.decode()
    assert "SHELL OIL" in page  # -48.10: the size of the amount counts
    assert "WHOLE FOODS MKT" in page  # -100.00 and +20.00
    assert "BLUE BOTTLE" not in page
    assert "ACME CORP" not in page


def test_an_invalid_filter_is_reported_and_the_others_still_apply(logged_in, history):
    response = logged_in.get("/transactions/", {"q": "whole", "amount_min": "50", "amount_max": "10"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="f-amount-max-errors"' in page
    assert "WHOLE FOODS" in page
    assert "SHELL OIL" not in page


def test_pagination_keeps_the_filters(logged_in, user, ingest):
    account = AccountFactory(user=user)
    ingest(account, *[(dt.date(2026, 4, 1 + n % 28), "-3.00", f"STARBUCKS STORE {n:05d}") for n in range(55)])
    page = logged_in.get("/transactions/", {"q": "starbucks", "month": "2026-04", "merchant": ""}).content.decode()
    assert "55 transactions match these filters" in page
    assert 'href="?q=starbucks&amp;month=2026-04&amp;page=2"' in page
    second = logged_in.get("/transactions/", {"q": "starbucks", "month": "2026-04", "page": "2"}).content.decode()
    assert "Page 2 of 2" in second
    assert 'href="?q=starbucks&amp;month=2026-04&amp;page=1"' in second
