"""The browser pages render the user's own data."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Connection
from accounts.tests.factories import AccountFactory
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def test_new_user_dashboard_says_what_to_do_next(logged_in):
    response = logged_in.get("/")
    assert response.status_code == 200
    assert b"Link an account" in response.content


def test_dashboard_shows_this_months_spending_and_recent_transactions(logged_in, user, ingest):
    account = AccountFactory(user=user, name="Everyday Checking")
    ingest(account, (timezone.localdate(), "-84.27", "WHOLE FOODS MKT #10234"))
    page = logged_in.get("/").content.decode()
    assert "$84.27" in page
    assert "Food \u203a Groceries" in page
    assert "WHOLE FOODS MKT #10234" in page
    assert "Everyday Checking" in page


def test_link_form_links_the_demo_bank(logged_in, user, demo_bank, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(
            "/accounts/link/",
            {"account_url": demo_bank.url, "account_login": "alice", "account_password": demo_bank.password},
        )
    assert response.status_code == 302
    assert Connection.objects.filter(user=user).exists()
    assert "Linked 3 accounts" in logged_in.get("/").content.decode()
    assert logged_in.get("/accounts/").status_code == 200


def test_link_form_shows_a_wrong_password_next_to_the_field(logged_in, demo_bank):
    response = logged_in.post(
        "/accounts/link/", {"account_url": demo_bank.url, "account_login": "alice", "account_password": "nope"}
    )
    assert response.status_code == 200
    assert 'id="id_account_password-errors"' in response.content.decode()
    assert "rejected the login" in response.content.decode()


def test_transactions_page_changes_a_category(logged_in, user, ingest):
    account = AccountFactory(user=user)
    ingest(account, (dt.date(2026, 10, 4), "-84.27", "WHOLE FOODS MKT #10234"))
    txn = Transaction.objects.get()
    assert "WHOLE FOODS" in logged_in.get("/transactions/?month=2026-10").content.decode()

    response = logged_in.post(f"/transactions/{txn.pk}/category/", {"category": "shopping/home-goods"})

    assert response.status_code == 302
    txn.refresh_from_db()
    assert txn.category.path == "shopping/home-goods"


def test_another_users_transaction_cannot_be_changed_from_the_page(logged_in, other_user, ingest):
    account = AccountFactory(user=other_user)
    ingest(account, (dt.date(2026, 10, 4), "-84.27", "WHOLE FOODS MKT #10234"))
    txn = Transaction.objects.get()
    assert logged_in.post(f"/transactions/{txn.pk}/category/", {"category": "food/dining"}).status_code == 404


def test_pages_require_login(client):
    for path in ["/", "/transactions/", "/accounts/", "/accounts/link/", "/notifications/", "/rules/"]:
        assert client.get(path)["Location"].startswith("/login/")


def test_category_change_does_not_redirect_off_site(logged_in, user, ingest):
    account = AccountFactory(user=user)
    ingest(account, (dt.date(2026, 10, 4), "-84.27", "WHOLE FOODS MKT #10234"))
    txn = Transaction.objects.get()
    response = logged_in.post(
        f"/transactions/{txn.pk}/category/", {"category": "food/dining", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/transactions/"


def test_a_month_out_of_range_on_the_transactions_page_is_ignored(logged_in):
    assert logged_in.get("/transactions/?month=9999-12").status_code == 200


def test_always_for_this_merchant_from_the_page_creates_a_rule_shown_on_the_rules_page(logged_in, user, ingest):
    account = AccountFactory(user=user)
    ingest(account, (dt.date(2026, 10, 4), "-40.00", "QUIXOTIC GADGETS PORTLAND OR"))
    txn = Transaction.objects.get()

    logged_in.post(f"/transactions/{txn.pk}/category/", {"category": "shopping/electronics", "always": "1"})

    page = logged_in.get("/rules/").content.decode()
    assert "Quixotic Gadgets" in page
    rule_id = user.category_rules.get().pk
    logged_in.post(f"/rules/{rule_id}/", {"category": "shopping/general"})
    assert user.category_rules.get().category.path == "shopping/general"
    logged_in.post(f"/rules/{rule_id}/", {"delete": "1"})
    assert not user.category_rules.exists()


def test_another_users_rule_cannot_be_changed_from_the_page(logged_in, other_user, ingest):
    from categories.models import Category
    from transactions.services import transaction_recategorize

    account = AccountFactory(user=other_user)
    ingest(account, (dt.date(2026, 10, 4), "-40.00", "QUIXOTIC GADGETS PORTLAND OR"))
    transaction_recategorize(
        txn=Transaction.objects.get(), category=Category.objects.get(path="gifts/gifts"), always=True
    )
    rule = other_user.category_rules.get()
    assert logged_in.post(f"/rules/{rule.pk}/", {"delete": "1"}).status_code == 404
    assert other_user.category_rules.exists()
