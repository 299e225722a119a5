"""Curating the merchant map in the admin, in a real headless Chromium."""

import datetime as dt

import pytest

from accounts.tests.factories import AccountFactory
from categories.models import Merchant
from mint.tests.factories import USER_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_accept_a_merchant_from_the_queue(live_server, browser, ingest, screenshot):
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    for n in range(2):
        account = AccountFactory.create(user=UserFactory.create())
        ingest(account, (dt.date(2026, 10, 1), "-40.00", f"QUIXOTIC GADGETS #{n} PORTLAND OR", f"q{n}"))

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/categories/merchant/queue/")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", USER_PASSWORD)
    page.click("main button[type=submit]")  # the admin signs in on the site's own page (security app)
    page.wait_for_url("**/admin/categories/merchant/queue/")

    row = page.locator("#queue tbody tr", has_text="QUIXOTIC GADGETS")
    assert row.locator("td").nth(1).inner_text() == "2"  # transactions
    assert row.locator("td").nth(2).inner_text() == "2"  # users
    screenshot(page, "admin-merchant-queue")
    row.locator("select").select_option("shopping/electronics")
    row.locator("input[type=submit]").click()

    page.wait_for_selector("text=is now shopping/electronics for new transactions")
    assert Merchant.objects.filter(name="Quixotic Gadgets", category__path="shopping/electronics").exists()
    assert page.locator("#queue").count() == 0  # nothing left waiting
    page.close()
