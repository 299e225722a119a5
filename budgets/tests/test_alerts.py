"""Budget alerts: 80 % and 100 %, once each per (user, category, month), by email and in the app."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from budgets import services, tasks
from budgets.models import BudgetAlert
from categories.models import Category
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(user):
    return AccountFactory(user=user)


@pytest.fixture
def groceries_budget(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        budget, _ = services.budget_set(
            user=user, category=Category.objects.get(path="food/groceries"), amount=Decimal("100")
        )
    return budget


def test_approaching_then_exceeded_each_fire_once(user, account, groceries_budget, ingest, mailoutbox):
    today = timezone.localdate()

    ingest(account, (today, "-79.00", "WHOLE FOODS MKT #10234", "a"))
    assert not Notification.objects.exists()

    ingest(account, (today, "-2.00", "SAFEWAY #1234", "b"))  # 81 %
    ingest(account, (today, "-3.00", "SAFEWAY #1234", "c"))  # 84 %: already told
    assert list(Notification.objects.values_list("kind", flat=True)) == ["budget.approaching"]

    ingest(account, (today, "-30.00", "TRADER JOE'S #552", "d"))  # 114 %
    notices = Notification.objects.order_by("pk")
    assert [n.kind for n in notices] == ["budget.approaching", "budget.exceeded"]
    assert [(n.context["category"], n.context["level"]) for n in notices] == [
        ("food/groceries", "approaching"),
        ("food/groceries", "exceeded"),
    ]
    assert [message.subject for message in mailoutbox] == [
        "You're close to your Groceries budget",
        "You've gone over your Groceries budget",
    ]
    assert mailoutbox[0].to == [user.email]
    assert "$81.00 of your $100.00" in mailoutbox[0].body


def test_crossing_both_levels_at_once_sends_only_the_higher(user, account, groceries_budget, ingest, mailoutbox):
    ingest(account, (timezone.localdate(), "-120.00", "WHOLE FOODS MKT #10234"))

    assert sorted(BudgetAlert.objects.values_list("level", flat=True)) == ["approaching", "exceeded"]
    assert list(Notification.objects.values_list("kind", flat=True)) == ["budget.exceeded"]
    assert [message.subject for message in mailoutbox] == ["You've gone over your Groceries budget"]


def test_a_retried_check_sends_nothing_more(user, account, groceries_budget, ingest, mailoutbox):
    ingest(account, (timezone.localdate(), "-85.00", "WHOLE FOODS MKT #10234"))
    ingest(account, (timezone.localdate(), "-35.00", "SAFEWAY #1234"))
    assert len(mailoutbox) == 2

    month = timezone.localdate().replace(day=1).isoformat()
    tasks.spending_changed(user.pk, [month])
    tasks.spending_changed(user.pk, [month])

    assert BudgetAlert.objects.count() == 2
    assert Notification.objects.count() == 2
    assert len(mailoutbox) == 2


def test_a_parent_budget_counts_its_children(user, account, ingest, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.budget_set(user=user, category=Category.objects.get(path="food"), amount=Decimal("50"))
    ingest(
        account,
        (timezone.localdate(), "-30.00", "WHOLE FOODS MKT #10234"),
        (timezone.localdate(), "-12.00", "STARBUCKS"),
    )
    assert list(BudgetAlert.objects.values_list("category__path", "level")) == [("food", "approaching")]


def test_importing_history_does_not_alert_for_past_months(user, account, groceries_budget, ingest, mailoutbox):
    last_year = timezone.localdate().replace(day=1) - dt.timedelta(days=200)
    ingest(account, (last_year, "-500.00", "WHOLE FOODS MKT #10234"))
    assert not BudgetAlert.objects.exists()
    assert mailoutbox == []


def test_notifications_api_lists_and_marks_read(user_client, account, groceries_budget, ingest):
    ingest(account, (timezone.localdate(), "-85.00", "WHOLE FOODS MKT #10234"))
    [notice] = user_client.get("/api/v1/notifications/").json()["results"]
    assert (notice["kind"], notice["category"], notice["level"], notice["read"]) == (
        "budget.approaching",
        "food/groceries",
        "approaching",
        False,
    )
    assert notice["month"] == f"{timezone.localdate():%Y-%m}"
    read = user_client.post(f"/api/v1/notifications/{notice['id']}/read/").json()
    assert read["read"] is True


def test_a_refund_below_the_threshold_and_a_new_crossing_do_not_alert_twice(
    user, account, groceries_budget, ingest, mailoutbox
):
    today = timezone.localdate()
    ingest(account, (today, "-85.00", "WHOLE FOODS MKT #10234", "a"))
    ingest(account, (today, "20.00", "WHOLE FOODS MKT #10234", "refund"))  # 65 %
    ingest(account, (today, "-20.00", "WHOLE FOODS MKT #10234", "again"))  # 85 % again
    assert [message.subject for message in mailoutbox] == ["You're close to your Groceries budget"]


def test_raising_the_budget_above_spending_lets_the_alert_fire_again(
    user, account, groceries_budget, ingest, mailoutbox, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    ingest(account, (today, "-85.00", "WHOLE FOODS MKT #10234", "a"))  # 85 % of 100
    with django_capture_on_commit_callbacks(execute=True):
        services.budget_set(user=user, category=groceries_budget.category, amount=Decimal("200"))  # 42.5 %
    assert not BudgetAlert.objects.exists()

    ingest(account, (today, "-80.00", "WHOLE FOODS MKT #10234", "b"))  # 82.5 % of 200
    assert [message.subject for message in mailoutbox] == [
        "You're close to your Groceries budget",
        "You're close to your Groceries budget",
    ]
    assert Notification.objects.filter(kind="budget.approaching").count() == 2


def test_lowering_the_budget_keeps_alerts_already_sent(
    user, account, groceries_budget, ingest, mailoutbox, django_capture_on_commit_callbacks
):
    ingest(account, (timezone.localdate(), "-85.00", "WHOLE FOODS MKT #10234", "a"))
    with django_capture_on_commit_callbacks(execute=True):
        services.budget_set(user=user, category=groceries_budget.category, amount=Decimal("90"))  # 94 %
    assert [message.subject for message in mailoutbox] == ["You're close to your Groceries budget"]


def test_a_budget_can_alert_earlier(user, account, ingest, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.budget_set(
            user=user,
            category=Category.objects.get(path="food/groceries"),
            amount=Decimal("100"),
            approaching_percent=50,
        )
    ingest(account, (timezone.localdate(), "-55.00", "WHOLE FOODS MKT #10234", "a"))
    assert [message.subject for message in mailoutbox] == ["You're close to your Groceries budget"]


def test_budgets_api_change_and_remove(user, user_client, groceries_budget, django_capture_on_commit_callbacks):
    url = f"/api/v1/budgets/{groceries_budget.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        changed = user_client.put(url, {"amount": "250.00", "approaching_percent": 90}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["amount"], changed.json()["approaching_percent"]) == ("250.00", 90)
    [food] = user_client.get("/api/v1/spending/current").json()["breakdown"]
    assert food["children"][0]["budget"] == "250.00"

    assert user_client.put(url, {"amount": "0"}, format="json").status_code == 400
    assert user_client.put(url, {"amount": "10", "approaching_percent": 100}, format="json").status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        assert user_client.delete(url).status_code == 204
    assert user_client.get(url).status_code == 404
    assert user_client.get("/api/v1/spending/current").json()["breakdown"] == []


def test_a_users_default_level_applies_to_budgets_that_set_none(
    user, user_client, account, groceries_budget, ingest, mailoutbox
):
    user_client.patch("/api/v1/budgets/preferences/", {"approaching_percent": 50}, format="json")
    assert user_client.get(f"/api/v1/budgets/{groceries_budget.pk}/").json()["approaching_percent"] == 50
    ingest(account, (timezone.localdate(), "-55.00", "WHOLE FOODS MKT #10234", "a"))
    assert [message.subject for message in mailoutbox] == ["You're close to your Groceries budget"]
