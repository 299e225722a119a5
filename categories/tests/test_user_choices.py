"""User rules and crowd consensus: learning from users without rewriting history."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.tests.factories import AccountFactory, ConnectionFactory
from categories.models import Category, CategorySource, CategoryVote, CrowdCategory, UserRule
from mint.tests.factories import UserFactory
from transactions.models import Transaction
from transactions.selectors import month_spending_from_db
from transactions.services import transaction_recategorize

pytestmark = pytest.mark.django_db
OCT = dt.date(2026, 10, 5)
NOV = dt.date(2026, 11, 5)
GADGETS = "QUIXOTIC GADGETS #0042 PORTLAND OR"  # a shop the curated map does not know


def category(path: str) -> Category:
    return Category.objects.get(path=path)


def linked_account(user):
    """An account a bank sends transactions for: only those count as crowd votes."""
    return AccountFactory.create(user=user, connection=ConnectionFactory.create(user=user))


@pytest.fixture
def recategorize(django_capture_on_commit_callbacks):
    def _recategorize(txn, path, **options):
        with django_capture_on_commit_callbacks(execute=True):
            return transaction_recategorize(txn=txn, category=category(path), **options)

    return _recategorize


def test_an_unknown_shop_falls_back_and_is_keyed_without_its_place(user, ingest):
    account = AccountFactory.create(user=user)
    ingest(account, (OCT, "-40.00", GADGETS))
    txn = Transaction.objects.get()
    assert (txn.category.path, txn.category_source, txn.merchant_key) == (
        "other/uncategorized",
        CategorySource.FALLBACK,
        "QUIXOTIC GADGETS",
    )


def test_always_for_this_merchant_applies_to_the_users_future_transactions_only(user, other_user, ingest, recategorize):
    mine, theirs = AccountFactory.create(user=user), AccountFactory.create(user=other_user)
    ingest(mine, (OCT, "-40.00", GADGETS, "a"))
    recategorize(Transaction.objects.get(), "shopping/electronics", always=True)

    ingest(mine, (NOV, "-25.00", "QUIXOTIC GADGETS #0077 SEATTLE WA", "b"))
    ingest(theirs, (NOV, "-25.00", "QUIXOTIC GADGETS #0077 SEATTLE WA", "c"))

    new = Transaction.objects.get(external_id="b")
    assert (new.category.path, new.category_source) == ("shopping/electronics", CategorySource.USER_RULE)
    assert Transaction.objects.get(external_id="c").category.path == "other/uncategorized"
    assert UserRule.objects.get(user=user).merchant_name == "Quixotic Gadgets"


def test_a_rule_beats_the_curated_map_for_its_owner(user, ingest, recategorize):
    account = AccountFactory.create(user=user)
    ingest(account, (OCT, "-5.00", "STARBUCKS STORE 10482", "a"))
    recategorize(Transaction.objects.get(), "food/dining", always=True)
    ingest(account, (NOV, "-5.00", "STARBUCKS STORE 99999", "b"))
    assert Transaction.objects.get(external_id="b").category.path == "food/dining"


def test_a_rule_can_also_move_past_uncategorized_transactions(user, ingest, recategorize):
    account = AccountFactory.create(user=user)
    ingest(
        account,
        (dt.date(2026, 9, 3), "-10.00", GADGETS, "sep"),
        (OCT, "-40.00", GADGETS, "oct"),
        (NOV, "-15.00", GADGETS, "nov"),
    )
    # One past transaction the user had already placed by hand stays where they put it.
    recategorize(Transaction.objects.get(external_id="sep"), "gifts/gifts")

    recategorize(Transaction.objects.get(external_id="nov"), "shopping/electronics", always=True, include_past=True)

    placed = {txn.external_id: (txn.category.path, txn.category_source) for txn in Transaction.objects.all()}
    assert placed == {
        "sep": ("gifts/gifts", CategorySource.MANUAL),
        "oct": ("shopping/electronics", CategorySource.USER_RULE),
        "nov": ("shopping/electronics", CategorySource.MANUAL),
    }
    october = month_spending_from_db(user_id=user.pk, month=OCT.replace(day=1))
    assert october.categories == {"shopping/electronics": Decimal("40.00")}


def test_three_users_agreeing_categorize_a_fourth_users_new_transactions_not_anyones_old_ones(ingest, recategorize):
    voters = [UserFactory.create() for _ in range(3)]
    fourth = UserFactory.create()
    fourth_account = linked_account(fourth)
    ingest(fourth_account, (OCT, "-30.00", GADGETS, "fourth-old"))
    for voter in voters:
        account = linked_account(voter)
        ingest(account, (OCT, "-40.00", GADGETS, f"{voter.pk}-moved"), (OCT, "-9.00", GADGETS, f"{voter.pk}-other"))
        recategorize(Transaction.objects.get(external_id=f"{voter.pk}-moved"), "shopping/electronics")

    assert CrowdCategory.objects.get(merchant_key="QUIXOTIC GADGETS").category.path == "shopping/electronics"
    ingest(fourth_account, (NOV, "-20.00", "QUIXOTIC GADGETS #0099 DENVER CO", "fourth-new"))

    new = Transaction.objects.get(external_id="fourth-new")
    assert (new.category.path, new.category_source) == ("shopping/electronics", CategorySource.CROWD)
    untouched = Transaction.objects.filter(external_id__in=["fourth-old", *[f"{v.pk}-other" for v in voters]])
    assert set(untouched.values_list("category__path", flat=True)) == {"other/uncategorized"}


def test_one_user_cannot_swing_the_crowd(user, ingest, recategorize):
    account = linked_account(user)
    ingest(account, *[(OCT, "-1.00", GADGETS, str(n)) for n in range(5)])
    for txn in Transaction.objects.all():
        recategorize(txn, "shopping/electronics")
    assert CategoryVote.objects.filter(merchant_key="QUIXOTIC GADGETS").count() == 1
    assert not CrowdCategory.objects.exists()


def test_without_a_clear_majority_there_is_no_consensus(ingest, recategorize):
    for n, path in enumerate(["shopping/electronics"] * 3 + ["shopping/general"] * 3):
        account = linked_account(UserFactory.create())
        ingest(account, (OCT, "-1.00", GADGETS, f"x{n}"))
        recategorize(Transaction.objects.get(external_id=f"x{n}"), path)
    assert not CrowdCategory.objects.exists()  # 3 of 6 is under the 60 % share


def test_the_curated_map_wins_over_the_crowd(ingest, recategorize):
    for n in range(3):
        account = linked_account(UserFactory.create())
        ingest(account, (OCT, "-5.00", "STARBUCKS STORE 10482", f"s{n}"))
        recategorize(Transaction.objects.get(external_id=f"s{n}"), "food/dining")
    latecomer = AccountFactory.create(user=UserFactory.create())
    ingest(latecomer, (NOV, "-5.00", "STARBUCKS STORE 10482", "late"))
    assert Transaction.objects.get(external_id="late").category.path == "food/coffee"


def test_a_manual_override_sticks_through_a_refresh(user, demo_bank, recategorize, django_capture_on_commit_callbacks):
    from accounts.models import SyncJob
    from accounts.services import connection_create, sync_job_request

    with django_capture_on_commit_callbacks(execute=True):
        connection = connection_create(user=user, url=demo_bank.url, login="alice", password=demo_bank.password)
    coffee = Transaction.objects.filter(user=user, category__path="food/coffee").first()
    assert coffee is not None
    recategorize(coffee, "food/dining")

    with django_capture_on_commit_callbacks(execute=True):
        sync_job_request(connection=connection, trigger=SyncJob.Trigger.DAILY)

    coffee.refresh_from_db()
    assert (coffee.category.path, coffee.category_source) == ("food/dining", CategorySource.MANUAL)
    assert coffee.merchant is not None


def test_api_patch_with_always_creates_a_rule_the_user_can_list_change_and_delete(user_client, user, ingest):
    account = AccountFactory.create(user=user)
    ingest(account, (OCT, "-40.00", GADGETS))
    txn = Transaction.objects.get()

    response = user_client.patch(
        f"/api/v1/transactions/{txn.pk}/", {"category": "shopping/electronics", "always_for_merchant": True}
    )
    assert response.status_code == 200

    [rule] = user_client.get("/api/v1/rules/").json()["results"]
    assert (rule["merchant"], rule["category"]) == ("Quixotic Gadgets", "shopping/electronics")
    changed = user_client.patch(f"/api/v1/rules/{rule['id']}/", {"category": "shopping/general"})
    assert changed.json()["category"] == "shopping/general"
    assert user_client.delete(f"/api/v1/rules/{rule['id']}/").status_code == 204
    assert not UserRule.objects.exists()
    assert Transaction.objects.get().category.path == "shopping/electronics"  # deleting a rule rewrites nothing


def test_categories_endpoint_lists_the_tree(user_client):
    paths = [category["path"] for category in user_client.get("/api/v1/categories/").json()]
    assert "food/groceries" in paths
    assert len(paths) == Category.objects.count()


def test_transactions_from_files_do_not_vote(ingest, recategorize):
    """A file can say anything, so three file users cannot teach the crowd."""
    for n in range(3):
        account = AccountFactory.create(user=UserFactory.create())
        ingest(account, (OCT, "-1.00", GADGETS, f"f{n}"))
        recategorize(Transaction.objects.get(external_id=f"f{n}"), "shopping/electronics")
    assert not CategoryVote.objects.exists()
    assert not CrowdCategory.objects.exists()


def test_the_crowd_cannot_turn_spending_into_a_transfer(ingest, recategorize):
    for n in range(4):
        account = linked_account(UserFactory.create())
        ingest(account, (OCT, "-1.00", GADGETS, f"t{n}"))
        recategorize(Transaction.objects.get(external_id=f"t{n}"), "transfer/account-transfer")
    assert CategoryVote.objects.count() == 4
    assert not CrowdCategory.objects.exists()
