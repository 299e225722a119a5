"""The transactions download link and the "Your data" page in headless Chromium, desktop and phone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from mint.models import User
from mint.tests.browser import browser_login
from mint.tests.factories import USER_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def person(ingest):
    user = UserFactory.create()
    today = timezone.localdate()
    ingest(
        AccountFactory.create(user=user, name="Everyday Checking"),
        *((today - dt.timedelta(days=n), f"-{n + 1}.25", f"BLUE BOTTLE COFFEE #{n}") for n in range(60)),
        (today, "-12.50", "=HYPERLINK(<script>alert(1)</script>)"),
    )
    return user


def assert_no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_download_the_filtered_list_then_export_and_delete(live_server, browser, person, screenshot, size):
    page, errors = browser_login(browser, live_server, person, viewport=VIEWPORTS[size], accept_downloads=True)
    page.goto(f"{live_server.url}/transactions/?q=blue+bottle")
    link = page.get_by_role("link", name="Download CSV")
    assert link.is_visible()
    screenshot(page, f"transactions_export_{size}")
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), encoding="utf-8-sig") as saved:
        lines = saved.read().splitlines()
    assert len(lines) == 61  # the header and all 60 coffees: both pages, not the first 50
    assert_no_horizontal_scroll(page)

    page.click(f"text={person.username}")
    page.wait_for_url("**/settings/data/")
    assert page.locator("h1").inner_text() == "Your data"
    assert_no_horizontal_scroll(page)
    screenshot(page, f"your_data_{size}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (.zip)").click()
    assert download.value.suggested_filename.startswith("mint-data-")

    page.fill("#id_password", "not my password")
    page.get_by_role("button", name="Delete my account and all my data").click()
    assert "That is not your password." in page.locator(".errors").inner_text()
    page.fill("#id_password", USER_PASSWORD)
    page.get_by_role("button", name="Delete my account and all my data").click()
    page.wait_for_url("**/login/")
    assert "Your account and all your data are deleted." in page.locator(".messages").inner_text()
    screenshot(page, f"account_deleted_{size}")
    assert not User.objects.filter(pk=person.pk).exists()
    assert errors == []
