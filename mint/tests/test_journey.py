"""A first-time user's whole journey, in a real browser, with the keyboard alone.

Sign up, link the demo bank and watch its first import arrive, upload a CSV statement,
read the dashboard's charts, recategorize a merchant for good, accept the recommended
budgets, get an alert when an import crosses one, and log out: at laptop and phone widths,
with no sideways scrolling and no script error on the way. Every control is reached by
Tab, so the test fails if one cannot be.
"""

from __future__ import annotations

import csv
import threading
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.db.models import Q
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Connection, SyncJob
from budgets.models import Budget
from categories.models import UserRule
from mint.models import User
from notifications.models import Notification
from transactions import services as transaction_services
from transactions.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SYNC_TASK = "transactions.tasks.sync_job_run"
NEW_PLACE = "QUILLFEATHER 5521 ELMVILLE"  # in no merchant map: imported uncategorized
MAX_TABS = 80


@pytest.fixture
def first_sync_held(monkeypatch):
    """The link's first sync job stays queued (tasks otherwise run inline in tests); its id is appended here."""
    held: list[int] = []
    enqueue = account_services.enqueue_on_commit

    def hold_first_sync(func_path: str, *args: object) -> None:
        if func_path == SYNC_TASK and not held:
            held.append(int(str(args[0])))
        else:
            enqueue(func_path, *args)

    monkeypatch.setattr(account_services, "enqueue_on_commit", hold_first_sync)
    return held


@pytest.fixture
def fetch_gate(monkeypatch):
    """Syncs wait at this gate before asking the bank, so the page can be seen while one is running."""
    gate = threading.Event()
    sync = transaction_services._connection_sync

    def gated_sync(connection):
        assert gate.wait(timeout=30), "the sync was never let through"
        return sync(connection)

    monkeypatch.setattr(transaction_services, "_connection_sync", gated_sync)
    return gate


def run_in_thread(job_id: int) -> threading.Thread:
    def run() -> None:
        try:
            transaction_services.sync_job_run(job_id=job_id)
        finally:
            db_connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def focused(locator) -> bool:
    return locator.evaluate("element => element === document.activeElement")


def tab_to(page, locator, *, backwards: bool = False):
    """Press Tab (or Shift+Tab) until `locator` has the focus, as a keyboard user would."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        if focused(locator):
            return locator
    raise AssertionError(f"{locator} is not reached by {MAX_TABS} presses of {key}")


def type_into(page, locator, text: str) -> None:
    tab_to(page, locator)
    page.keyboard.type(text)


def press(page, locator, key: str = "Enter", *, backwards: bool = False) -> None:
    tab_to(page, locator, backwards=backwards)
    page.keyboard.press(key)


def choose_with_arrows(page, select, value: str) -> None:
    """Move a focused <select> to `value` with the arrow keys."""
    index = select.evaluate("(select, value) => [...select.options].findIndex(o => o.value === value)", value)
    assert index >= 0, f"{value} is not offered"
    key = "ArrowDown" if index > select.evaluate("select => select.selectedIndex") else "ArrowUp"
    for _ in range(select.locator("option").count()):
        if select.input_value() == value:
            return
        page.keyboard.press(key)
    assert select.input_value() == value


def follow_nav(page, href: str) -> None:
    """Go to a page through the header's main navigation."""
    with page.expect_navigation():
        press(page, page.locator(f"nav[aria-label=Main] a[href='{href}']"))


def chart_drawn(page, name: str) -> bool:
    return page.evaluate(
        """name => {
            const canvas = document.querySelector(`[data-chart="${name}"] canvas`);
            return Boolean(canvas && window.Chart && Chart.getChart(canvas) && canvas.width > 0 && canvas.height > 0);
        }""",
        name,
    )


def categories_of(user, description: str) -> list[str]:
    rows = Transaction.objects.filter(user=user, description=description)
    return sorted(rows.values_list("category__path", flat=True))


def write_csv(path, rows) -> str:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["Date", "Description", "Amount"])
        writer.writerows((f"{day:%Y-%m-%d}", text, amount) for day, text, amount in rows)
    return str(path)


def upload_csv(page, path: str, account: str) -> None:
    """Upload a CSV from the Accounts page, landing on the preview of how it reads."""
    follow_nav(page, "/accounts/")
    with page.expect_navigation():
        press(page, page.get_by_role("link", name="Upload a statement").first)
    file_input = page.locator("#id_file")
    tab_to(page, file_input)
    # The one step not done with keys: Enter on a file input opens the OS's file chooser.
    file_input.set_input_files(path)
    type_into(page, page.locator("#id_account_name"), account)
    with page.expect_navigation():
        press(page, page.get_by_role("button", name="Upload"))
    assert page.locator("#preview-title").inner_text().startswith("Check how")


def import_previewed(page) -> None:
    """Press Import, the preview's last control: from the top of the page, Shift+Tab wraps round to it."""
    with page.expect_navigation():
        press(page, page.locator("button[name=import]"), backwards=True)


class Journey:
    """One browser page, checked the same way at every step."""

    def __init__(self, page, size: str, screenshot) -> None:
        self.page = page
        self.size = size
        self.screenshot = screenshot
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def check(self, step: str) -> None:
        page = self.page
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{step} scrolls sideways"
        assert self.errors == [], f"script errors at {step}: {self.errors}"
        self.screenshot(page, f"journey-{step}-{self.size}")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_a_first_time_users_journey_by_keyboard(
    live_server, browser, demo_bank, first_sync_held, fetch_gate, screenshot, tmp_path, size
):
    page = browser.new_page(viewport=VIEWPORTS[size], reduced_motion="reduce")
    journey = Journey(page, size, screenshot)
    today = timezone.localdate()

    # 1. Sign up: straight on to linking a bank, signed in.
    page.goto(f"{live_server.url}/signup/")
    type_into(page, page.locator("#id_username"), "newcomer")
    type_into(page, page.locator("#id_email"), "newcomer@example.com")
    type_into(page, page.locator("#id_password1"), "a long passphrase 42")
    type_into(page, page.locator("#id_password2"), "a long passphrase 42")
    with page.expect_navigation():
        press(page, page.get_by_role("button", name="Sign up"))
    assert page.url == f"{live_server.url}/accounts/link/"
    assert page.locator(".logout .who").inner_text() == "newcomer"
    user = User.objects.get(username="newcomer")
    journey.check("01-signed-up")

    # 2. Link the demo bank, and watch the first import arrive without reloading.
    type_into(page, page.locator("#id_account_url"), demo_bank.url)
    type_into(page, page.locator("#id_account_login"), "newcomer")
    type_into(page, page.locator("#id_account_password"), demo_bank.password)
    with page.expect_navigation():
        press(page, page.get_by_role("button", name="Link bank"))
    link = Connection.objects.get(user=user)
    assert page.url == f"{live_server.url}/accounts/#connection-{link.pk}"
    status = page.locator(f"#connection-{link.pk} [data-sync-job-url]")
    assert status.inner_text() == "Waiting to start"
    assert page.locator("[data-reload-note]").is_hidden()
    assert not Transaction.objects.filter(user=user).exists()
    journey.check("02-link-queued")

    [job_id] = first_sync_held
    page.evaluate("window.sameDocument = true")
    sync = run_in_thread(job_id)
    try:
        status.get_by_text("Fetching transactions…").wait_for(timeout=15_000)
        assert page.evaluate("window.sameDocument === true")
        journey.check("02-link-fetching")
    finally:
        fetch_gate.set()
        sync.join(timeout=60)
    card = page.locator(f"#connection-{link.pk}")
    card.get_by_text("Latest update (first link) finished").wait_for(timeout=15_000)
    assert SyncJob.objects.get(pk=job_id).status == SyncJob.Status.DONE
    imported = Transaction.objects.filter(user=user).count()
    assert imported > 50
    assert f"{imported} new transactions." in card.inner_text()
    assert "not synced yet" not in card.inner_text()
    journey.check("02-link-done")

    # 3. Upload a CSV statement: preview its columns, then import it.
    statement = write_csv(
        tmp_path / "visa.csv",
        [(today, NEW_PLACE, "-36.25"), (today, NEW_PLACE, "-24.75"), (today, "WHOLE FOODS MKT #10234", "-52.10")],
    )
    upload_csv(page, statement, "Visa card")
    preview = page.locator("table.parsed tbody tr")
    assert preview.count() == 3
    assert NEW_PLACE in preview.first.inner_text()
    journey.check("03-upload-preview")
    import_previewed(page)
    assert "3 new transactions imported into Visa card" in page.locator(".messages").inner_text()
    assert page.locator("table.transactions tbody tr").count() == 3
    journey.check("03-upload-imported")

    # 4. The dashboard: this month's spending, with its charts drawn over the tables.
    follow_nav(page, "/")
    page.wait_for_function("() => document.querySelector('[data-chart=\"breakdown\"]:not([hidden]) canvas')")
    assert page.locator("#widget-title").inner_text() == f"Spending in {today:%B %Y}"
    assert page.locator(".widget .total").inner_text() not in ("", "$0.00")
    assert chart_drawn(page, "trend")
    assert chart_drawn(page, "breakdown")
    assert page.locator("#breakdown-table tbody tr").count() >= 1
    journey.check("04-dashboard")

    # 5. Put the new place in its category for good, from the transactions page.
    assert categories_of(user, NEW_PLACE) == ["other/uncategorized", "other/uncategorized"]
    follow_nav(page, "/transactions/")
    type_into(page, page.locator("#f-q"), "quillfeather")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    row = page.locator("table.transactions tbody tr").first
    category = row.locator("select")
    tab_to(page, category)
    choose_with_arrows(page, category, "food/dining")
    press(page, row.locator("label.always input"), "Space")
    assert row.locator("label.always input").is_checked()
    with page.expect_navigation():
        press(page, row.locator("button[type=submit]"))
    saved = page.locator(".messages").inner_text()
    assert "Dining, now and from now on, for this merchant." in saved
    assert categories_of(user, NEW_PLACE) == ["food/dining", "food/dining"]
    rule = UserRule.objects.get(user=user)
    assert rule.category.path == "food/dining"
    assert {rule.merchant_key} == set(
        Transaction.objects.filter(user=user, description=NEW_PLACE).values_list("merchant_key", flat=True)
    )
    assert all(
        select == "food/dining"
        for select in page.locator("table.transactions select").evaluate_all("selects => selects.map(s => s.value)")
    )
    journey.check("05-recategorized")

    # 6. Accept the recommended budgets.
    follow_nav(page, "/budgets/")
    recommended = page.locator("ul.recommendations > li").count()
    assert recommended >= 1
    with page.expect_navigation():
        press(page, page.get_by_role("button", name="Accept all"))
    budgets = list(Budget.objects.filter(user=user).select_related("category"))
    assert len(budgets) == recommended
    assert page.locator("ul.budgets > li").count() == recommended
    journey.check("06-budgets")

    # 7. An import crosses a budget: the alert shows in the header and on the alerts page.
    alerted = set(Notification.objects.filter(user=user).values_list("context__category", flat=True))
    budget = next((budget for budget in budgets if budget.category.path not in alerted), None)
    assert budget is not None, f"every budget already alerted: {alerted}"
    unread_before = Notification.objects.filter(user=user, read_at__isnull=True).count()
    usual = (
        Transaction.objects.filter(user=user, amount__lt=0)
        .filter(Q(category=budget.category) | Q(category__parent=budget.category))
        .values_list("description", flat=True)
        .first()
    )
    assert usual, f"no spending in {budget.category.path} to repeat"
    big_one = write_csv(tmp_path / "visa-later.csv", [(today, usual, f"-{budget.amount + Decimal('100.00')}")])
    upload_csv(page, big_one, "Visa card")
    import_previewed(page)
    alert = Notification.objects.get(user=user, kind="budget.exceeded", context__category=budget.category.path)
    unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
    assert unread == unread_before + 1
    badge = page.locator("nav[aria-label=Main] a[href='/notifications/'] .badge")
    assert badge.inner_text() == str(unread)
    journey.check("07-alert-badge")
    follow_nav(page, "/notifications/")
    assert alert.subject in page.locator("ul.notices").inner_text()
    journey.check("07-alerts")

    # 8. Log out from the header.
    with page.expect_navigation():
        press(page, page.get_by_role("button", name="Log out"))
    assert page.get_by_role("button", name="Log out").count() == 0
    page.goto(f"{live_server.url}/transactions/")
    assert page.url.startswith(f"{live_server.url}/login/")
    journey.check("08-logged-out")
    page.close()
