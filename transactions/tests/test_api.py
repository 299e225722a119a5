import datetime as dt
from decimal import Decimal

import pytest

from accounts.tests.factories import AccountFactory
from transactions.models import Transaction
from transactions.selectors import month_spending_from_db

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 10, 4)


@pytest.fixture
def account(user):
    return AccountFactory(user=user)


def test_list_is_newest_first_and_filters_by_month(user_client, account, ingest):
    ingest(account, (DAY, "-84.27", "WHOLE FOODS MKT #10234"), (dt.date(2026, 9, 30), "-5.75", "STARBUCKS STORE 10482"))

    everything = user_client.get("/api/v1/transactions/").json()
    assert [t["posted_on"] for t in everything["results"]] == ["2026-10-04", "2026-09-30"]
    first = everything["results"][0]
    assert first["amount"] == "-84.27"
    assert first["category"] == "food/groceries"
    assert first["category_source"] == "merchant-map"

    october = user_client.get("/api/v1/transactions/", {"month": "2026-10"}).json()
    assert [t["posted_on"] for t in october["results"]] == ["2026-10-04"]
    assert user_client.get("/api/v1/transactions/", {"month": "2026-13"}).status_code == 400
    assert len(user_client.get("/api/v1/transactions/", {"category": "food"}).json()["results"]) == 2


def test_patch_category_is_a_sticky_manual_override(user_client, user, account, ingest):
    ingest(account, (DAY, "-84.27", "WHOLE FOODS MKT #10234"))
    txn = Transaction.objects.get()

    response = user_client.patch(f"/api/v1/transactions/{txn.pk}/", {"category": "shopping/home-goods"}, format="json")

    assert response.status_code == 200
    assert (response.json()["category"], response.json()["category_source"]) == ("shopping/home-goods", "manual")
    october = month_spending_from_db(user_id=user.pk, month=DAY.replace(day=1))
    assert october.categories == {"shopping/home-goods": Decimal("84.27")}


def test_patch_with_an_unknown_category_is_a_400(user_client, account, ingest):
    ingest(account, (DAY, "-84.27", "WHOLE FOODS MKT #10234"))
    txn = Transaction.objects.get()
    response = user_client.patch(f"/api/v1/transactions/{txn.pk}/", {"category": "food/caviar"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "Unknown category.", "code": "invalid", "category": ["Unknown category."]}


def test_put_and_delete_are_not_allowed(user_client, account, ingest):
    ingest(account, (DAY, "-84.27", "WHOLE FOODS MKT #10234"))
    txn = Transaction.objects.get()
    assert user_client.put(f"/api/v1/transactions/{txn.pk}/", {}, format="json").status_code == 405
    assert user_client.delete(f"/api/v1/transactions/{txn.pk}/").status_code == 405


@pytest.mark.parametrize(
    "params",
    [{"month": "9999-12"}, {"month": "2026-00"}, {"month": "26-1"}, {"account": "99999999999999999999"}],
)
def test_filters_out_of_range_are_400s(user_client, params):
    assert user_client.get("/api/v1/transactions/", params).status_code == 400


def test_filters_by_merchant_text_and_amount_range(user_client, user, account, ingest):
    ingest(
        account,
        (DAY, "-84.27", "WHOLE FOODS MKT #10234"),
        (DAY, "-5.75", "STARBUCKS STORE 10482"),
        (DAY, "30.00", "STARBUCKS STORE 10482", "refund"),
        (DAY, "-120.00", "SHELL OIL 57444212"),
    )

    def descriptions(**params):
        response = user_client.get("/api/v1/transactions/", params)
        assert response.status_code == 200, response.json()
        return sorted((t["description"], t["amount"]) for t in response.json()["results"])

    starbucks = [("STARBUCKS STORE 10482", "-5.75"), ("STARBUCKS STORE 10482", "30.00")]
    assert descriptions(merchant="starbucks") == starbucks
    assert descriptions(q="whole foods") == [("WHOLE FOODS MKT #10234", "-84.27")]
    assert descriptions(amount_min="20", amount_max="100") == [
        ("STARBUCKS STORE 10482", "30.00"),
        ("WHOLE FOODS MKT #10234", "-84.27"),
    ]
    assert descriptions(amount_min="100") == [("SHELL OIL 57444212", "-120.00")]
    bad = user_client.get("/api/v1/transactions/", {"amount_min": "50", "amount_max": "10"})
    assert bad.status_code == 400
    assert "amount_max" in bad.json()


def test_cursor_pages_neither_repeat_nor_skip_rows_when_new_ones_arrive(user_client, account, ingest):
    ingest(account, *((DAY - dt.timedelta(days=n // 3), "-1.00", f"SHOP {n}", f"t{n}") for n in range(12)))

    first = user_client.get("/api/v1/transactions/", {"page_size": 5}).json()
    # New transactions on the same day and newer arrive while the user scrolls.
    ingest(account, (DAY, "-2.00", "LATE POSTING", "late"), (DAY + dt.timedelta(days=1), "-3.00", "NEWER", "newer"))
    second = user_client.get(first["next"]).json()
    third = user_client.get(second["next"]).json()

    seen = [t["description"] for page in (first, second, third) for t in page["results"]]
    assert len(seen) == len(set(seen)) == 12
    assert third["next"] is None
    back = user_client.get(third["previous"]).json()
    assert back["results"] == second["results"]


def test_a_tampered_cursor_is_a_400(user_client, account):
    for cursor in ["nonsense", "bjoyMDI2LTEwLTAxOjk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "eDoyMDI2LTEwLTAxOjE"]:
        response = user_client.get("/api/v1/transactions/", {"cursor": cursor})
        assert response.status_code == 400
        assert "cursor" in response.json()
