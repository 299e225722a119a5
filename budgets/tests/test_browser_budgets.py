"""The budgets page in a real headless Chromium, at desktop and phone sizes, without JavaScript of its own."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from budgets.models import Budget
from budgets.progress import projected_month_end
from budgets.selectors import current_month
from budgets.tests.history import groceries_and_gas
from mint.tests.browser import browser_login
from mint.tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def person(ingest):
    """Groceries and gas this month and in the three complete months before; someone else's spending."""
    user = UserFactory.create()
    ingest(
        AccountFactory.create(user=user, name="Everyday Checking"),
        *groceries_and_gas(current_month()),
    )
    ingest(AccountFactory.create(name="Not yours"), (current_month(), "-777.77", "TIFFANY & CO 0042 NEW YORK NY"))
    return user


def open_budgets(browser, live_server, user, viewport):
    page, errors = browser_login(browser, live_server, user, viewport=viewport)
    page.click("nav >> text=Budgets")
    page.wait_for_url("**/budgets/")
    return page, errors


def assert_no_horizontal_scroll(page):
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def words(locator) -> str:
    """What a person reads in an element, on one line."""
    return " ".join(locator.inner_text().split())


def budget(page, path: str):
    return page.locator("li.budget", has=page.locator("h2.budget-name", has_text=path))


@pytest.mark.parametrize("size", VIEWPORTS)
def test_accept_recommendations_then_change_and_remove_budgets(live_server, browser, person, screenshot, size):
    page, errors = open_budgets(browser, live_server, person, VIEWPORTS[size])
    phone = size == "phone"

    # A new user: told what to do, with the recommendations and their reasons.
    assert page.locator("nav a[aria-current=page]").inner_text() == "Budgets"
    assert "No budgets yet." in words(page.locator("main"))
    recommendations = page.locator(".recommendations > li")
    assert recommendations.count() == 2
    assert "The middle of your monthly food spending" in words(recommendations.first)
    if phone:
        assert_no_horizontal_scroll(page)
    screenshot(page, f"budgets-new-{size}")

    page.get_by_role("button", name="Accept all").click()
    page.wait_for_selector("text=Set 2 budgets from the recommendations.")
    assert dict(Budget.objects.filter(user=person).values_list("category__path", "amount")) == {
        "food": Decimal("110.00"),
        "transport": Decimal("45.00"),
    }
    food = budget(page, "food")
    assert "$84.27 of $110.00" in words(food.locator(".bar-label"))
    assert food.locator("meter").get_attribute("value") == "77"
    assert "$25.73 left · 77% used" in words(food)
    assert "Last month $120.00" in words(food)
    projected = projected_month_end(spent=Decimal("84.27"), today=timezone.localdate())
    assert f"At this pace ${projected:,.2f} by month end" in words(food)
    transport = budget(page, "transport")
    assert transport.get_attribute("class") == "budget over"
    assert "$3.10 over budget" in words(transport)
    assert page.get_by_role("button", name="Accept all").count() == 0
    assert "777.77" not in page.content()
    if phone:
        assert_no_horizontal_scroll(page)
    screenshot(page, f"budgets-accepted-{size}")

    # Change one with the keyboard alone: the disclosure, the fields, Enter to save.
    food.locator("summary").focus()
    page.keyboard.press("Enter")
    amount = food.get_by_label("Monthly amount")
    assert amount.is_visible()
    page.keyboard.press("Tab")
    assert amount.evaluate("element => element === document.activeElement")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("0")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=A budget must be more than zero.")
    food = budget(page, "food")
    assert food.locator("details").get_attribute("open") is not None  # the error is in the open row
    if phone:
        assert_no_horizontal_scroll(page)
    screenshot(page, f"budgets-error-{size}")

    food.get_by_label("Monthly amount").fill("150")
    food.get_by_label("Alert at").fill("50")
    food.get_by_label("Alert at").press("Enter")
    page.wait_for_selector("text=Your Food budget is now $150.00 a month, with an alert at 50%.")
    food = budget(page, "food")
    assert "$84.27 of $150.00" in words(food.locator(".bar-label"))
    assert food.get_attribute("class") == "budget near"  # 56 %: past the 50 % alert
    assert "past your 50% alert" in words(food)

    # Remove one.
    transport = budget(page, "transport")
    transport.locator("summary").click()
    transport.get_by_role("button", name="Remove").click()
    page.wait_for_selector("text=Removed your Transport budget.")
    assert page.locator("li.budget").count() == 1
    assert list(Budget.objects.filter(user=person).values_list("category__path", flat=True)) == ["food"]

    # Add one.
    page.select_option("#add-category", "transport/gas")
    page.fill("#add-amount", "60")
    page.get_by_role("button", name="Add budget").click()
    page.wait_for_selector("text=Added a $60.00 monthly budget for Transport \u203a Gas.")
    assert page.locator("li.budget").count() == 2
    if phone:
        assert_no_horizontal_scroll(page)
    screenshot(page, f"budgets-changed-{size}")
    assert errors == []
    page.close()


def test_the_empty_page_at_phone_width(live_server, browser, screenshot):
    user = UserFactory.create()
    page, errors = open_budgets(browser, live_server, user, VIEWPORTS["phone"])
    assert "Link a bank account" in words(page.locator("main"))
    assert_no_horizontal_scroll(page)
    screenshot(page, "budgets-empty-phone")
    assert errors == []
    page.close()
