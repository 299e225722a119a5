"""The pages where users link, watch and manage connections, and upload statement files."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.demo_bank.simplefin import DemoSimpleFinServer
from accounts.models import Account, Connection, SyncJob
from accounts.tests.factories import AccountFactory, ConnectionFactory
from transactions.models import RawPayload, Transaction
from transactions.services import file_upload

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
CSV = (
    "Date,Description,Amount\r\n"
    "2026-10-01,WHOLE FOODS MKT #10234,-84.27\r\n"
    "2026-10-02,ACME CORP PAYROLL,2500.00\r\n"
    "2026-10-03,SHELL OIL 57444,-41.10\r\n"
)


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def linked(user, demo_bank, django_capture_on_commit_callbacks) -> Connection:
    """The demo bank linked for the user, its first sync run and finished."""
    with django_capture_on_commit_callbacks(execute=True):
        return services.connection_create(
            user=user, url=demo_bank.url, login="alice", password=demo_bank.password, history_days=10
        )


@pytest.fixture
def bridge(simplefin_bridge) -> DemoSimpleFinServer:
    return simplefin_bridge


def page(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# The accounts page -----------------------------------------------------------------------------


def test_a_new_user_is_shown_the_three_ways_in(logged_in):
    html = page(logged_in.get("/accounts/"))
    assert 'href="/accounts/link/"' in html
    assert 'href="/accounts/link/simplefin/"' in html
    assert 'href="/transactions/upload/"' in html
    assert "sync_status.js" not in html


def test_accounts_page_shows_each_connection_with_its_accounts_and_latest_job(logged_in, linked):
    html = page(logged_in.get("/accounts/"))
    assert f'id="connection-{linked.pk}"' in html
    assert linked.display_name in html
    for account in linked.accounts.all():
        assert account.name in html
        assert account.number_hint in html
    assert "Latest update (first link)" in html
    assert "Latest update (first link) finished" in html
    assert f"/accounts/connections/{linked.pk}/disconnect/" in html
    assert "sync_status.js" not in html  # nothing in flight: nothing to poll


def test_accounts_page_queries_do_not_grow_with_connections(logged_in, user, django_assert_num_queries):
    def add_connection(n: int) -> None:
        connection = ConnectionFactory.create(user=user)
        AccountFactory.create(user=user, connection=connection, external_id=f"acct-{n}")
        SyncJob.objects.create(connection=connection, user=user, trigger=SyncJob.Trigger.MANUAL)

    add_connection(0)
    logged_in.get("/accounts/")  # the first request of the day also records the user as active
    with CaptureQueriesContext(db) as one:
        logged_in.get("/accounts/")
    add_connection(1)
    add_connection(2)
    with django_assert_num_queries(len(one.captured_queries)):
        logged_in.get("/accounts/")


def test_a_job_in_flight_is_polled_by_the_status_script(logged_in, user):
    connection = ConnectionFactory.create(user=user)
    job, _ = services.sync_job_request(connection=connection, trigger=SyncJob.Trigger.MANUAL)
    html = page(logged_in.get("/accounts/"))
    assert f'data-sync-job-url="{reverse("sync-job-detail", kwargs={"pk": job.pk})}"' in html
    assert "Waiting to start" in html
    assert "Reload the page" in html
    assert "js/sync_status.js" in html
    assert "<script>" not in html  # no inline script
    status = logged_in.get(reverse("sync-job-detail", kwargs={"pk": job.pk})).json()["status"]
    assert status == "queued"  # what the script polls answers to the session cookie


def test_a_connection_that_needs_attention_offers_to_re_enter_the_credentials(logged_in, user):
    connection = ConnectionFactory.create(
        user=user, status=Connection.Status.NEEDS_ATTENTION, last_error="The bank rejected the login."
    )
    html = page(logged_in.get("/accounts/"))
    assert "has stopped updating." in html
    assert "The bank rejected the login." in html
    assert f'class="button" href="/accounts/connections/{connection.pk}/credentials/"' in html


def test_file_accounts_are_listed_with_an_upload_button(logged_in, user, other_user):
    AccountFactory.create(user=user, name="Visa from files", balance=Decimal("-12.50"))
    AccountFactory.create(user=other_user, name="Not yours")
    html = page(logged_in.get("/accounts/"))
    assert "Visa from files" in html
    assert "Not yours" not in html
    assert "Upload a statement" in html


# Linking ---------------------------------------------------------------------------------------


def test_link_form_links_the_demo_bank_and_goes_to_the_accounts_page(logged_in, user, demo_bank):
    response = logged_in.post(
        "/accounts/link/",
        {"account_url": demo_bank.url, "account_login": "alice", "account_password": demo_bank.password},
    )
    connection = Connection.objects.get(user=user)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/#connection-{connection.pk}"
    count = connection.accounts.count()
    assert count >= 2
    assert connection.sync_jobs.get().trigger == SyncJob.Trigger.LINK
    assert f"Linked {count} accounts at 127.0.0.1" in page(logged_in.get("/accounts/"))


def test_link_form_with_advanced_ofx_details(logged_in, user, demo_bank):
    response = logged_in.post(
        "/accounts/link/",
        {
            "account_url": demo_bank.url,
            "ofx_org": "DEMO",
            "ofx_fid": "1234",
            "ofx_version": "102",
            "account_login": "alice",
            "account_password": demo_bank.password,
        },
    )
    assert response.status_code == 302
    connection = Connection.objects.get(user=user)
    assert (connection.ofx_org, connection.ofx_fid, connection.ofx_version) == ("DEMO", "1234", 102)


def test_link_form_shows_a_wrong_password_next_to_the_password_field(logged_in, demo_bank):
    response = logged_in.post(
        "/accounts/link/", {"account_url": demo_bank.url, "account_login": "alice", "account_password": "nope"}
    )
    assert response.status_code == 200
    assert "rejected the login" in response.context["form"].errors["account_password"][0]
    assert 'id="id_account_password-errors"' in page(response)
    assert not Connection.objects.exists()


def test_link_form_needs_a_bank(logged_in):
    response = logged_in.post("/accounts/link/", {"account_login": "alice", "account_password": "x"})
    assert response.context["form"].errors["account_url"]


def test_link_form_offers_the_directory(logged_in, user, demo_bank):
    from accounts.models import Institution

    bank = Institution.objects.create(name="Demo Bank", ofx_url=demo_bank.url)
    html = page(logged_in.get("/accounts/link/"))
    assert "My bank is not listed" in html
    assert f'<option value="{bank.pk}">Demo Bank</option>' in html

    response = logged_in.post(
        "/accounts/link/", {"institution": bank.pk, "account_login": "alice", "account_password": demo_bank.password}
    )
    assert response.status_code == 302
    assert Connection.objects.get(user=user).institution == bank


def test_linking_the_same_bank_twice_is_a_form_error(logged_in, linked, demo_bank):
    response = logged_in.post(
        "/accounts/link/",
        {"account_url": demo_bank.url, "account_login": "alice", "account_password": demo_bank.password},
    )
    assert "already linked" in " ".join(response.context["form"].non_field_errors())
    assert Connection.objects.count() == 1


def test_simplefin_page_links_with_a_setup_token(logged_in, user, bridge):
    assert "setup token" in page(logged_in.get("/accounts/link/simplefin/"))
    response = logged_in.post("/accounts/link/simplefin/", {"setup_token": bridge.setup_token()})
    assert response.status_code == 302
    assert Connection.objects.get(user=user).provider == Connection.Provider.SIMPLEFIN


def test_simplefin_page_shows_a_bad_token_next_to_the_field(logged_in):
    response = logged_in.post("/accounts/link/simplefin/", {"setup_token": "not a token"})
    assert response.status_code == 200
    assert response.context["form"].errors["setup_token"]
    assert not Connection.objects.exists()


# Refresh, credentials, disconnect -------------------------------------------------------------


def test_refresh_queues_a_job_then_asks_to_wait(logged_in, linked, django_capture_on_commit_callbacks):
    SyncJob.objects.filter(connection=linked).update(finished_at=timezone.now() - dt.timedelta(minutes=2))

    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(f"/accounts/connections/{linked.pk}/refresh/", follow=True)
    assert "Refreshing" in " ".join(messages_of(response))
    assert SyncJob.objects.filter(connection=linked, trigger=SyncJob.Trigger.MANUAL).count() == 1

    response = logged_in.post(f"/accounts/connections/{linked.pk}/refresh/", follow=True)
    assert response.redirect_chain[-1][0] == f"/accounts/#connection-{linked.pk}"
    assert "refreshed moments ago, try again in" in " ".join(messages_of(response))
    assert SyncJob.objects.filter(connection=linked).count() == 2  # the link's and the one refresh


def test_refresh_is_post_only(logged_in, user):
    connection = ConnectionFactory.create(user=user)
    assert logged_in.get(f"/accounts/connections/{connection.pk}/refresh/").status_code == 405


def test_credentials_page_replaces_the_login(logged_in, linked, demo_bank):
    Connection.objects.filter(pk=linked.pk).update(
        status=Connection.Status.NEEDS_ATTENTION, last_error="The bank rejected the login."
    )
    url = f"/accounts/connections/{linked.pk}/credentials/"
    assert "The bank rejected the login." in page(logged_in.get(url))

    wrong = logged_in.post(url, {"account_login": "alice", "account_password": "nope"})
    assert wrong.context["form"].errors["account_password"]

    response = logged_in.post(url, {"account_login": "alice", "account_password": demo_bank.password}, follow=True)
    assert "Credentials updated; refreshing now." in messages_of(response)
    linked.refresh_from_db()
    assert linked.status == Connection.Status.ACTIVE
    assert linked.sync_jobs.filter(trigger=SyncJob.Trigger.CREDENTIALS).exists()


def test_credentials_page_asks_a_simplefin_connection_for_a_setup_token(logged_in, user):
    connection = ConnectionFactory.create(user=user, provider=Connection.Provider.SIMPLEFIN)
    response = logged_in.get(f"/accounts/connections/{connection.pk}/credentials/")
    assert list(response.context["form"].fields) == ["setup_token"]


def test_disconnect_requires_a_choice(logged_in, linked):
    url = f"/accounts/connections/{linked.pk}/disconnect/"
    html = page(logged_in.get(url))
    assert "checked" not in html
    assert "Keep the accounts and their transactions (they stop updating)" in html
    assert "Delete the accounts and all their transactions" in html

    response = logged_in.post(url, {})
    assert response.status_code == 200
    assert response.context["form"].errors["history"]
    assert Connection.objects.filter(pk=linked.pk).exists()


def test_disconnect_keeping_the_history(logged_in, linked):
    accounts = linked.accounts.count()
    count = Transaction.objects.filter(account__connection=linked).count()
    assert count
    shown = logged_in.get(f"/accounts/connections/{linked.pk}/disconnect/").context["accounts"]
    assert sum(account.txn_count for account in shown) == count

    response = logged_in.post(f"/accounts/connections/{linked.pk}/disconnect/", {"history": "keep"}, follow=True)
    assert "Disconnected" in " ".join(messages_of(response))
    assert not Connection.objects.exists()
    assert Account.objects.filter(connection=None).count() == accounts
    assert Transaction.objects.count() == count


def test_disconnect_deleting_the_history(logged_in, linked):
    response = logged_in.post(f"/accounts/connections/{linked.pk}/disconnect/", {"history": "delete"})
    assert response.status_code == 302
    assert not Connection.objects.exists()
    assert not Account.objects.exists()
    assert not Transaction.objects.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "refresh/"),
        ("get", "credentials/"),
        ("post", "credentials/"),
        ("get", "disconnect/"),
        ("post", "disconnect/"),
    ],
)
def test_another_users_connection_is_not_found(logged_in, other_user, method, path):
    connection = ConnectionFactory.create(user=other_user)
    data = {"history": "delete", "account_login": "x", "account_password": "y"}
    response = getattr(logged_in, method)(f"/accounts/connections/{connection.pk}/{path}", data)
    assert response.status_code == 404
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_pages_require_login(client):
    for path in ["/accounts/link/simplefin/", "/accounts/connections/1/disconnect/", "/transactions/upload/"]:
        assert client.get(path)["Location"].startswith("/login/")


# Uploads ---------------------------------------------------------------------------------------


def upload(client, content: bytes | str, name: str = "statement.csv", account: str = "Visa", **extra):
    raw = content.encode() if isinstance(content, str) else content
    return client.post(
        "/transactions/upload/", {"file": SimpleUploadedFile(name, raw), "account_name": account}, **extra
    )


def as_posted(initial: dict) -> dict:
    """A form's initial values as a browser posts them: no unticked boxes, no empty choices."""
    return {key: value for key, value in initial.items() if value is not None and value is not False}


def test_upload_page_lists_the_formats_and_the_file_accounts(logged_in, user):
    AccountFactory.create(user=user, name="Visa from files")
    html = page(logged_in.get("/transactions/upload/"))
    assert 'accept=".ofx,.qfx,.qif,.csv"' in html
    assert '<option value="Visa from files">' in html
    assert "QIF" in html


def test_an_ofx_file_is_imported_at_once(logged_in, user):
    raw = (DATA / "checking_sgml_cp1252.ofx").read_bytes()
    response = upload(logged_in, raw, name="checking.ofx", account="Checking", follow=True)
    account = Account.objects.get(user=user, name="Checking")
    assert response.redirect_chain[-1][0] == f"/transactions/?account={account.pk}"
    new = Transaction.objects.filter(account=account).count()
    assert new
    assert f"{new} new transactions imported into Checking (0 already there)." in messages_of(response)


def test_csv_upload_preview_then_import(logged_in, user):
    response = upload(logged_in, CSV, account="Visa")
    payload = RawPayload.objects.get(user=user)
    assert response["Location"] == f"/transactions/upload/{payload.pk}/?account=Visa"

    preview = logged_in.get(response["Location"])
    html = page(preview)
    assert "WHOLE FOODS MKT #10234" in html
    assert "\u2212$84.27" in html
    assert "+$2,500.00" in html
    assert "3 transactions in the file" in html
    assert preview.context["form"]["account_name"].value() == "Visa"
    assert not Transaction.objects.exists()

    data = {**as_posted(preview.context["form"].initial), "account_name": "Visa", "import": "1"}
    response = logged_in.post(f"/transactions/upload/{payload.pk}/", data, follow=True)
    account = Account.objects.get(user=user, name="Visa", connection=None)
    assert sorted(Transaction.objects.filter(account=account).values_list("amount", flat=True)) == [
        Decimal("-84.27"),
        Decimal("-41.10"),
        Decimal("2500.00"),
    ]
    assert "3 new transactions imported into Visa (0 already there)." in messages_of(response)

    again = logged_in.get(f"/transactions/upload/{payload.pk}/", follow=True)
    assert "already imported" in " ".join(messages_of(again))


def test_a_changed_mapping_changes_the_parsed_amounts(logged_in, user):
    upload(logged_in, CSV)
    payload = RawPayload.objects.get(user=user)
    form = logged_in.get(f"/transactions/upload/{payload.pk}/").context["form"]
    data = as_posted(form.initial)

    flipped = logged_in.post(f"/transactions/upload/{payload.pk}/", {**data, "negate": "on", "preview": "1"})
    html = page(flipped)
    assert "+$84.27" in html
    assert "\u2212$2,500.00" in html
    assert not Transaction.objects.exists()

    wrong_column = logged_in.post(f"/transactions/upload/{payload.pk}/", {**data, "amount": "1", "description": "2"})
    assert "is not an amount" in page(wrong_column) or "not a number" in page(wrong_column)


def test_a_mapping_without_an_amount_is_refused_on_the_amount_field(logged_in, user):
    upload(logged_in, CSV)
    payload = RawPayload.objects.get(user=user)
    response = logged_in.post(
        f"/transactions/upload/{payload.pk}/", {"date": "0", "description": "1", "date_style": "iso", "preview": "1"}
    )
    assert "Choose the amount column" in response.context["form"].errors["amount"][0]


def test_an_oversize_file_is_refused(logged_in, settings):
    settings.IMPORT_MAX_BYTES = 50
    response = upload(logged_in, CSV)
    assert response.status_code == 200
    assert "larger than" in response.context["form"].errors["file"][0]
    assert not RawPayload.objects.exists()


def test_a_csv_with_no_amount_column_shows_the_error(logged_in):
    response = upload(logged_in, "Date,Description,Note\r\n2026-10-01,Coffee,morning\r\n2026-10-02,Tea,noon\r\n")
    assert response.status_code == 200
    assert "No amount column" in response.context["form"].errors["file"][0]
    assert 'id="id_file-errors"' in page(response)


def test_an_account_name_is_required(logged_in):
    response = upload(logged_in, CSV, account="")
    assert response.context["form"].errors["account_name"]


def test_another_users_upload_is_not_found(logged_in, other_user):
    payload = file_upload(user=other_user, raw=CSV.encode(), filename="theirs.csv")
    assert logged_in.get(f"/transactions/upload/{payload.pk}/").status_code == 404
    assert logged_in.post(f"/transactions/upload/{payload.pk}/", {"import": "1"}).status_code == 404


# In a real browser ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_link_refresh_and_live_status_in_a_browser(live_server, browser, demo_bank, screenshot):
    from mint.tests.browser import browser_login
    from mint.tests.factories import UserFactory

    user = UserFactory.create()
    page, errors = browser_login(browser, live_server, user, viewport={"width": 390, "height": 844})
    page.goto(f"{live_server.url}/accounts/")
    page.get_by_role("link", name="Link a bank").click()
    page.fill("#id_account_url", demo_bank.url)
    page.fill("#id_account_login", "alice")
    page.fill("#id_account_password", demo_bank.password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/#connection-*")
    connection = Connection.objects.get(user=user)
    card = page.locator(f"#connection-{connection.pk}")
    assert "Linked" in page.locator(".messages").inner_text()
    assert "Latest update (first link) finished" in card.inner_text()  # tasks run inline in tests

    card.get_by_role("button", name="Refresh").click()
    page.wait_for_selector("text=refreshed moments ago, try again in")

    # A job in flight: the script follows it and reloads the page when it finishes.
    job = SyncJob.objects.create(connection=connection, user=user, trigger=SyncJob.Trigger.MANUAL)
    page.reload()
    status = card.locator("[data-sync-job-url]")
    assert status.inner_text() == "Waiting to start"
    assert card.locator("[data-reload-note]").is_hidden()  # the script runs: no need to reload by hand
    SyncJob.objects.filter(pk=job.pk).update(status=SyncJob.Status.RUNNING)
    page.wait_for_selector(f"#connection-{connection.pk} >> text=Fetching transactions…", timeout=10_000)
    SyncJob.objects.filter(pk=job.pk).update(
        status=SyncJob.Status.DONE, finished_at=timezone.now(), message="Up to date: nothing new."
    )
    page.wait_for_selector("text=Latest update (manual refresh) finished", timeout=10_000)
    assert "Up to date: nothing new." in card.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "accounts-linked-phone")
    assert errors == []


def test_in_demo_mode_the_simplefin_page_offers_a_token_for_the_demo_bridge(
    logged_in, user, settings, django_capture_on_commit_callbacks
):
    from accounts.demo_bank.simplefin import demo_secret

    server = DemoSimpleFinServer(secret=demo_secret()).start()
    try:
        settings.DEMO_SIMPLEFIN_PORT = server.httpd.server_address[1]
        html = page(logged_in.get("/accounts/link/simplefin/"))
        token = re.search(r'<code class="token">([^<]+)</code>', html)
        assert token is not None
        with django_capture_on_commit_callbacks(execute=True):
            response = logged_in.post("/accounts/link/simplefin/", {"setup_token": token.group(1)})
        assert response.status_code == 302
        assert Connection.objects.get(user=user).provider == "simplefin"
    finally:
        server.stop()


def test_the_dashboard_refreshes_a_connection_and_comes_back(logged_in, linked):
    SyncJob.objects.filter(connection=linked).update(finished_at=timezone.now() - dt.timedelta(minutes=5))
    html = page(logged_in.get("/"))
    assert f'action="/accounts/connections/{linked.pk}/refresh/"' in html

    response = logged_in.post(f"/accounts/connections/{linked.pk}/refresh/", {"next": "/"})

    assert response["Location"] == "/"
    assert SyncJob.objects.filter(connection=linked, trigger="manual").exists()


def test_refresh_never_sends_the_user_to_another_site(logged_in, linked):
    response = logged_in.post(f"/accounts/connections/{linked.pk}/refresh/", {"next": "https://evil.example/"})
    assert response["Location"].startswith("/accounts/")
