"""The budgets page (progress, last month, the month-end pace; set, change, remove; recommendations),
and the projection arithmetic behind it."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from budgets import services
from budgets.models import Budget
from budgets.progress import budget_progress, projected_month_end
from budgets.selectors import current_month
from budgets.tests.history import groceries_and_gas
from categories.models import Category

pytestmark = pytest.mark.django_db

D = Decimal


def category(path: str) -> Category:
    return Category.objects.get(path=path)


def text(html: str) -> str:
    """The page's visible words on one line each, tags dropped: for asserting what a person reads."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def budget_row(html: str, budget: Budget) -> str:
    """The <li> of one budget on the page."""
    match = re.search(rf'<li class="budget [a-z]+" id="budget-{budget.pk}">(.*?)</details>', html, re.S)
    assert match, f"no row for budget {budget.pk}"
    return match.group(1)


@pytest.fixture
def history(user, ingest):
    """Groceries and gas this month and in each of the three complete months before it."""
    account = AccountFactory.create(user=user, name="Everyday Checking")
    ingest(
        account,
        *groceries_and_gas(current_month()),
    )
    return account


# The projection: spent so far / days elapsed * days in the month, to the cent.


@pytest.mark.parametrize(
    ("spent", "today", "expected"),
    [
        ("10.00", dt.date(2026, 11, 1), "300.00"),  # first day of a 30-day month: one day's pace, times 30
        ("10.00", dt.date(2026, 1, 1), "310.00"),  # first day of a 31-day month
        ("123.45", dt.date(2026, 11, 30), "123.45"),  # last day: what was spent
        ("123.45", dt.date(2026, 12, 31), "123.45"),
        ("100.00", dt.date(2026, 1, 10), "310.00"),  # 31-day month
        ("100.00", dt.date(2026, 1, 3), "1033.33"),  # 100 * 31 / 3 = 1033.333...
        ("50.00", dt.date(2026, 2, 14), "100.00"),  # 28-day month, half way
        ("10.00", dt.date(2026, 2, 3), "93.33"),  # 10 * 28 / 3 = 93.333...
        ("50.00", dt.date(2026, 2, 28), "50.00"),  # last day of a 28-day month
        ("50.00", dt.date(2028, 2, 28), "51.79"),  # a leap year's February has 29 days: 50 * 29 / 28
        ("0.05", dt.date(2026, 1, 2), "0.78"),  # 0.775: half a cent rounds up
        ("0.00", dt.date(2026, 1, 2), "0.00"),
        ("-20.00", dt.date(2026, 1, 2), "-20.00"),  # a refund month has no pace to extrapolate
    ],
)
def test_projection_spreads_the_pace_so_far_over_the_whole_month(spent, today, expected):
    assert projected_month_end(spent=D(spent), today=today) == D(expected)


def test_progress_compares_each_budget_with_this_month_last_month_and_the_pace(user, ingest):
    account = AccountFactory.create(user=user)
    ingest(
        account,
        (dt.date(2026, 2, 3), "-30.00", "WHOLE FOODS MKT #10234"),
        (dt.date(2026, 2, 5), "-12.50", "SQ *BLUE BOTTLE COFFE"),  # food/coffee: counts for the food budget
        (dt.date(2026, 2, 6), "-48.10", "SHELL OIL 57444212"),
        (dt.date(2026, 1, 20), "-95.00", "WHOLE FOODS MKT #10234"),
        (dt.date(2025, 12, 20), "-999.00", "WHOLE FOODS MKT #10234"),  # two months back: not compared
    )
    services.budget_set(user=user, category=category("food"), amount=D("100.00"), approaching_percent=40)
    services.budget_set(user=user, category=category("transport/gas"), amount=D("40.00"))
    services.budget_set(user=user, category=category("shopping"), amount=D("200.00"))

    rows = {row.category: row for row in budget_progress(user=user, today=dt.date(2026, 2, 7))}

    food = rows["food"]
    assert (food.amount, food.spent, food.remaining, food.last_month) == (D("100"), D("42.50"), D("57.50"), D("95"))
    assert food.percent_used == 42
    assert food.approaching_percent == 40
    assert food.state == "near"  # past its own 40 % level (the default 80 % would say ok)
    assert food.projected == D("170.00")  # 42.50 / 7 days * 28
    assert food.projected_over
    gas = rows["transport/gas"]
    assert (gas.spent, gas.remaining, gas.over_by, gas.state, gas.approaching_percent) == (
        D("48.10"),
        D("-8.10"),
        D("8.10"),
        "over",
        80,
    )
    shopping = rows["shopping"]
    assert (shopping.spent, shopping.last_month, shopping.projected, shopping.state) == (D("0"), D("0"), D("0"), "ok")
    assert not shopping.projected_over


def test_progress_reads_the_cached_summaries_and_the_budgets_never_the_transactions(user, history):
    services.budget_set(user=user, category=category("food"), amount=D("200.00"))
    budget_progress(user=user)  # fills the cache

    with CaptureQueriesContext(connection) as queries:
        rows = budget_progress(user=user)

    assert rows[0].spent == D("84.27")
    assert len(queries) == 1  # the budgets
    assert "budgets_budget" in queries[0]["sql"]
    assert not any("transactions_transaction" in query["sql"] for query in queries)


def test_a_cold_page_reads_the_aggregates_not_the_transactions(logged_in, user, history):
    services.budget_set(user=user, category=category("food"), amount=D("200.00"))
    with CaptureQueriesContext(connection) as queries:
        assert logged_in.get("/budgets/").status_code == 200
    assert not any("transactions_transaction" in query["sql"] for query in queries)


# The page.


def test_the_page_needs_a_login(client):
    response = client.get("/budgets/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_new_user_is_told_what_to_do(logged_in):
    page = text(logged_in.get("/budgets/").content.decode())
    assert "No budgets yet." in page
    assert "Link a bank account" in page
    assert "No recommendations yet." in page
    assert "Accept all" not in page


def test_with_history_and_no_budgets_the_page_points_to_the_recommendations(logged_in, history):
    page = text(logged_in.get("/budgets/").content.decode())
    assert "No budgets yet." in page
    assert "Start with the recommended budgets below" in page
    assert "Accept all" in page


def test_each_budget_shows_spent_remaining_a_bar_last_month_and_the_pace(logged_in, user, history):
    food, _ = services.budget_set(user=user, category=category("food"), amount=D("200.00"))
    gas, _ = services.budget_set(user=user, category=category("transport/gas"), amount=D("40.00"))
    today = timezone.localdate()

    html = logged_in.get("/budgets/").content.decode()

    row = budget_row(html, food)
    assert "$84.27" in row
    assert "of $200.00" in row
    assert "$115.73 left · 42% used" in text(row)
    assert '<meter class="bar" min="0" max="100" value="42"' in row
    assert "Last month $120.00" in text(row)
    projected = projected_month_end(spent=D("84.27"), today=today)
    assert f"At this pace ${projected:,.2f} by month end" in text(row)
    assert "Alert at 80%" in text(row)
    row = budget_row(html, gas)
    assert '<li class="budget over"' in html
    assert "$8.10 over budget · 120% used" in text(row)
    assert "Last month $40.00" in text(row)
    assert "above budget" in text(row)  # the pace passes the budget: flagged
    assert "1 over budget" in text(html)


def test_add_a_budget(logged_in, user):
    response = logged_in.post("/budgets/save/", {"category": "transport/gas", "amount": "$1,200.50"}, follow=True)

    budget = Budget.objects.get(user=user)
    assert (budget.category.path, budget.amount, budget.approaching_percent) == ("transport/gas", D("1200.50"), None)
    assert response.redirect_chain == [("/budgets/", 302)]
    assert "Added a $1,200.50 monthly budget for Transport \u203a Gas." in response.content.decode()


def test_the_add_form_offers_spending_categories_without_a_budget(logged_in, user):
    services.budget_set(user=user, category=category("food"), amount=D("200.00"))
    html = logged_in.get("/budgets/").content.decode()
    start = html.index('id="add-category"')
    add_form = html[start : html.index("</select>", start)]
    assert 'value="food/groceries"' in add_form
    assert 'value="food"' not in add_form  # changed in its own row
    assert 'value="income/paycheck"' not in add_form
    assert 'value="transfer/credit-card-payment"' not in add_form


def test_change_a_budgets_amount_and_alert_level(logged_in, user):
    budget, _ = services.budget_set(user=user, category=category("food"), amount=D("200.00"))

    response = logged_in.post(
        f"/budgets/{budget.pk}/save/", {"amount": "250", "approaching_percent": "90"}, follow=True
    )

    budget.refresh_from_db()
    assert (budget.amount, budget.approaching_percent) == (D("250.00"), 90)
    assert "Your Food budget is now $250.00 a month, with an alert at 90%." in response.content.decode()


def test_an_unchanged_default_level_stays_the_default_and_an_emptied_one_goes_back_to_it(logged_in, user):
    budget, _ = services.budget_set(user=user, category=category("food"), amount=D("200.00"))
    logged_in.post(f"/budgets/{budget.pk}/save/", {"amount": "210", "approaching_percent": "80"})
    budget.refresh_from_db()
    assert (budget.amount, budget.approaching_percent) == (D("210.00"), None)

    services.budget_set(user=user, category=category("food"), amount=D("210.00"), approaching_percent=60)
    logged_in.post(f"/budgets/{budget.pk}/save/", {"amount": "210", "approaching_percent": ""})
    budget.refresh_from_db()
    assert budget.approaching_level == 80


def test_setting_a_category_that_has_a_budget_replaces_it(logged_in, user):
    services.budget_set(user=user, category=category("food"), amount=D("200.00"))
    response = logged_in.post("/budgets/save/", {"category": "food", "amount": "300"}, follow=True)
    assert Budget.objects.get(user=user).amount == D("300.00")
    assert "Your Food budget is now $300.00 a month" in response.content.decode()


def test_remove_a_budget(logged_in, user):
    budget, _ = services.budget_set(user=user, category=category("food"), amount=D("200.00"))
    response = logged_in.post(f"/budgets/{budget.pk}/remove/", follow=True)
    assert not Budget.objects.filter(user=user).exists()
    assert "Removed your Food budget." in response.content.decode()


def test_removing_and_changing_only_take_posts(logged_in, user):
    budget, _ = services.budget_set(user=user, category=category("food"), amount=D("200.00"))
    assert logged_in.get(f"/budgets/{budget.pk}/remove/").status_code == 405
    assert logged_in.get(f"/budgets/{budget.pk}/save/").status_code == 405
    assert logged_in.get("/budgets/recommendations/accept/").status_code == 405
    assert Budget.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"category": "food", "amount": "0"}, "amount", "A budget must be more than zero."),
        ({"category": "food", "amount": "-5"}, "amount", "A budget must be more than zero."),
        ({"category": "food", "amount": "lots"}, "amount", "Enter a number."),
        ({"category": "food", "amount": ""}, "amount", "This field is required."),
        ({"amount": "100"}, "category", "This field is required."),
        ({"category": "income/paycheck", "amount": "100"}, "category", "Choose a spending category from the list."),
        ({"category": "food", "amount": "100", "approaching_percent": "120"}, "approaching_percent", "Between 1"),
    ],
)
def test_the_add_forms_errors_are_shown_next_to_their_fields(logged_in, user, data, field, message):
    response = logged_in.post("/budgets/save/", data)

    assert response.status_code == 400
    html = response.content.decode()
    # The field's own block: from its wrapper to the next field (or the end of the form).
    start = html.rindex('<div class="field', 0, html.index(f'<label for="add-{field}">'))
    end = min(i for i in (html.find('<div class="field', start + 1), html.find("</form>", start)) if i > 0)
    field_html = html[start:end]
    assert field_html.startswith('<div class="field invalid">')
    assert message in field_html
    assert 'aria-invalid="true"' in field_html
    assert not Budget.objects.filter(user=user).exists()


def test_a_changes_errors_are_shown_in_its_row_with_the_form_open(logged_in, user):
    food, _ = services.budget_set(user=user, category=category("food"), amount=D("200.00"))
    gas, _ = services.budget_set(user=user, category=category("transport/gas"), amount=D("40.00"))

    response = logged_in.post(f"/budgets/{gas.pk}/save/", {"amount": "0", "approaching_percent": "100"})

    assert response.status_code == 400
    html = response.content.decode()
    row = budget_row(html, gas)
    assert '<details class="edit" open>' in row
    assert "A budget must be more than zero." in row
    assert "Between 1 and 99 percent." in row
    assert 'value="0"' in row  # what was typed is kept
    assert re.search(r'<input [^>]*name="amount"[^>]*autofocus', row)  # the cursor goes to the first error
    assert '<details class="edit">' in budget_row(html, food)  # the other rows stay closed
    gas.refresh_from_db()
    assert gas.amount == D("40.00")


def test_forms_carry_a_csrf_token_and_posts_without_one_are_refused(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    services.budget_set(user=user, category=category("food"), amount=D("200.00"))
    html = client.get("/budgets/").content.decode()
    assert html.count('name="csrfmiddlewaretoken"') == html.count('method="post"')
    assert client.post("/budgets/save/", {"category": "shopping", "amount": "100"}).status_code == 403
    assert not Budget.objects.filter(category__path="shopping").exists()


def test_accept_one_recommendation(logged_in, user, history):
    page = text(logged_in.get("/budgets/").content.decode())
    assert "The middle of your monthly food spending" in page  # the reason is shown

    response = logged_in.post("/budgets/recommendations/accept/", {"category": "food"}, follow=True)

    assert dict(Budget.objects.filter(user=user).values_list("category__path", "amount")) == {"food": D("110.00")}
    page = text(response.content.decode())
    assert "Your Food budget is now $110.00 a month." in page
    assert "Your budget is already $110.00." in page  # nothing left to accept for food


def test_accept_all_recommendations(logged_in, user, history):
    services.budget_set(user=user, category=category("food"), amount=D("500.00"))
    page = text(logged_in.get("/budgets/").content.decode())
    assert "Accepting all replaces your current Food budget." in page
    assert "instead of your $500.00" in page

    response = logged_in.post("/budgets/recommendations/accept/", {"all": "1"}, follow=True)

    assert dict(Budget.objects.filter(user=user).values_list("category__path", "amount")) == {
        "food": D("110.00"),
        "transport": D("45.00"),
    }
    page = text(response.content.decode())
    assert "Set 2 budgets from the recommendations." in page
    assert "Accept all" not in page  # everything recommended is set


def test_accepting_what_is_not_recommended_says_so(logged_in, user, history):
    response = logged_in.post("/budgets/recommendations/accept/", {"category": "pets"}, follow=True)
    assert "No recommendation for pets." in response.content.decode()
    response = logged_in.post("/budgets/recommendations/accept/", {}, follow=True)
    assert "Choose a recommendation to accept." in response.content.decode()
    assert not Budget.objects.filter(user=user).exists()


def test_accept_all_without_history_changes_nothing(logged_in, user):
    response = logged_in.post("/budgets/recommendations/accept/", {"all": "1"}, follow=True)
    assert "There are no recommendations to accept yet." in response.content.decode()
    assert not Budget.objects.filter(user=user).exists()


def test_another_users_budget_cannot_be_changed_or_removed_and_never_shows(logged_in, user, other_user, ingest):
    theirs, _ = services.budget_set(user=other_user, category=category("shopping"), amount=D("777.00"))
    ingest(AccountFactory.create(user=other_user), (current_month(), "-654.32", "TIFFANY & CO 0042 NEW YORK NY"))

    assert (
        logged_in.post(f"/budgets/{theirs.pk}/save/", {"amount": "1", "approaching_percent": "10"}).status_code == 404
    )
    assert logged_in.post(f"/budgets/{theirs.pk}/remove/").status_code == 404
    theirs.refresh_from_db()
    assert (theirs.amount, theirs.approaching_percent) == (D("777.00"), None)

    # Setting the same category sets the caller's own budget, never theirs.
    logged_in.post("/budgets/save/", {"category": "shopping", "amount": "5"})
    theirs.refresh_from_db()
    assert theirs.amount == D("777.00")
    html = logged_in.get("/budgets/").content.decode()
    assert "777.00" not in html
    assert "654.32" not in html
    assert f"budget-{theirs.pk}" not in html


def test_settings_on_the_page_drive_the_template_and_the_default_alert(user, client):
    client.force_login(user)
    response = client.post(
        "/budgets/preferences/", {"monthly_income": "$4,000", "approaching_percent": "70"}, follow=True
    )
    assert "Your budget settings are saved." in response.content.decode()
    page = client.get("/budgets/").content.decode()
    assert "as you entered it" in page
    assert 'value="4000.00"' in page
    assert "70 if left empty" in page
    assert client.post("/budgets/preferences/", {"monthly_income": "-5"}).status_code == 400
    client.post("/budgets/preferences/", {"monthly_income": ""})
    assert "as you entered it" not in client.get("/budgets/").content.decode()
