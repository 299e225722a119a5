"""The dashboard and the transactions page in a real headless Chromium, at desktop and phone sizes."""

from decimal import Decimal

import pytest

from accounts.tests.factories import AccountFactory
from budgets import services
from categories.models import Category, UserRule
from mint.converters import previous_month
from mint.tests.browser import browser_login
from mint.tests.factories import UserFactory
from transactions.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def months():
    from budgets.selectors import current_month

    this = current_month()
    return this, previous_month(this), previous_month(previous_month(this))


@pytest.fixture
def person(ingest, months):
    """Three months of history, a budget on food, and someone else's spending that must never show."""
    this, last, before = months
    user = UserFactory.create()
    account = AccountFactory.create(user=user, name="Everyday Checking")
    ingest(
        account,
        (this, "-84.27", "WHOLE FOODS MKT #10234"),
        (this, "-5.75", "SQ *BLUE BOTTLE COFFE"),
        (this, "-48.10", "SHELL OIL 57444212"),
        (this, "2850.00", "ACME CORP PAYROLL PPD"),
        (last, "-120.00", "WHOLE FOODS MKT #10234"),
        (last, "2850.00", "ACME CORP PAYROLL PPD"),
        (before, "-40.00", "SHELL OIL 57444212"),
    )
    services.budget_set(user=user, category=Category.objects.get(path="food"), amount=Decimal("200.00"))
    ingest(AccountFactory.create(name="Not yours"), (this, "-777.77", "TIFFANY & CO 0042 NEW YORK NY"))
    return user


def open_page(browser, live_server, user, viewport):
    # Reduced motion: the page then draws its charts without animation, so screenshots show them finished.
    return browser_login(browser, live_server, user, viewport=viewport, reduced_motion="reduce")


def assert_no_horizontal_scroll(page):
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def chart_drawn(page, name: str) -> bool:
    return page.evaluate(
        """name => {
            const canvas = document.querySelector(`[data-chart="${name}"] canvas`);
            return Boolean(canvas && window.Chart && Chart.getChart(canvas) && canvas.width > 0 && canvas.height > 0);
        }""",
        name,
    )


@pytest.mark.parametrize("size", VIEWPORTS)
def test_dashboard_draws_its_charts_over_tables_and_moves_between_months(
    live_server, browser, person, months, screenshot, size
):
    this, last, _ = months
    page, errors = open_page(browser, live_server, person, VIEWPORTS[size])
    page.wait_for_function("() => document.querySelector('[data-chart=\"breakdown\"]:not([hidden]) canvas')")

    assert page.locator("#widget-title").inner_text() == f"Spending in {this:%B %Y}"
    assert page.locator(".widget .total").inner_text() == "$138.12"
    assert "as of" in page.locator(".widget").inner_text()
    assert "$90.02 of $200.00" in page.locator(".widget .bars li", has_text="food").inner_text()
    assert chart_drawn(page, "trend")
    assert chart_drawn(page, "breakdown")
    trend_row = page.locator("#trend-table tbody tr").first  # newest first
    assert trend_row.locator("td").all_inner_texts() == ["$138.12", "$2,850.00"]
    assert page.locator("#breakdown-table tbody th").all_inner_texts() == ["Food", "Transport"]
    assert page.locator("#breakdown-table tbody tr", has_text="transport").locator("td").all_inner_texts() == [
        "$48.10",
        "35%",
    ]
    assert page.locator("#breakdown-table tbody tr", has_text="food").locator("td").all_inner_texts() == [
        "$90.02",
        "65%",
    ]
    assert "777.77" not in page.content()
    if size == "phone":
        assert_no_horizontal_scroll(page)
    screenshot(page, f"dashboard-{size}")

    page.click("a[rel=prev]")
    page.wait_for_url(f"**/?month={last:%Y-%m}")
    page.wait_for_function("() => document.querySelector('[data-chart=\"trend\"]:not([hidden]) canvas')")
    assert page.locator("#widget-title").inner_text() == f"Spending in {last:%B %Y}"
    assert page.locator(".widget .total").inner_text() == "$120.00"
    assert page.locator("a[rel=next]").count() == 1
    if size == "phone":
        assert_no_horizontal_scroll(page)
    screenshot(page, f"dashboard-previous-month-{size}")

    page.click("a[rel=next]")
    page.wait_for_url(f"**/?month={this:%Y-%m}")
    assert page.locator(".widget .total").inner_text() == "$138.12"
    assert page.locator("a[rel=next]").count() == 0
    assert errors == []
    page.close()


@pytest.mark.parametrize("size", VIEWPORTS)
def test_transactions_page_filters_and_recategorizes_always_for_the_merchant(
    live_server, browser, person, screenshot, size
):
    page, errors = open_page(browser, live_server, person, VIEWPORTS[size])
    page.goto(f"{live_server.url}/transactions/")
    assert page.locator("table.transactions tbody tr").count() == 7
    if size == "phone":
        assert_no_horizontal_scroll(page)
    screenshot(page, f"transactions-{size}")

    page.fill("#f-q", "shell")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/transactions/?*q=shell*")
    rows = page.locator("table.transactions tbody tr")
    assert rows.count() == 2
    assert all("SHELL OIL" in text for text in rows.all_inner_texts())
    assert page.locator("#f-q").input_value() == "shell"  # the form keeps what was asked
    if size == "phone":
        assert_no_horizontal_scroll(page)
    screenshot(page, f"transactions-search-{size}")

    page.click("text=Clear filters")
    page.wait_for_url("**/transactions/")
    row = page.locator("table.transactions tbody tr", has_text="BLUE BOTTLE")
    row.locator("select").select_option("food/dining")
    row.locator("label.always input").check()
    row.locator("button[type=submit]").click()
    page.wait_for_selector("text=Food \u203a Dining, now and from now on, for this merchant.")

    coffee = Transaction.objects.get(user=person, description="SQ *BLUE BOTTLE COFFE")
    assert coffee.category.path == "food/dining"
    rule = UserRule.objects.get(user=person, merchant_key=coffee.merchant_key)
    assert rule.category.path == "food/dining"
    row = page.locator("table.transactions tbody tr", has_text="BLUE BOTTLE")
    assert row.locator("select").input_value() == "food/dining"
    if size == "phone":
        assert_no_horizontal_scroll(page)
    screenshot(page, f"transactions-recategorized-{size}")
    assert errors == []
    page.close()


def test_dashboard_without_javascript_shows_the_tables_and_no_empty_chart_boxes(
    live_server, browser, person, screenshot
):
    context = browser.new_context(viewport=VIEWPORTS["phone"], java_script_enabled=False)
    page, _ = browser_login(context, live_server, person)

    assert page.locator("#trend-table").is_visible()
    assert page.locator("#breakdown-table").is_visible()
    assert page.locator("#trend-table tbody tr").first.locator("td").all_inner_texts() == ["$138.12", "$2,850.00"]
    assert not page.locator("[data-chart]").first.is_visible()
    assert_no_horizontal_scroll(page)
    screenshot(page, "dashboard-no-javascript-phone")
    context.close()
