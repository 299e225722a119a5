import pytest

from budgets.models import Budget

pytestmark = pytest.mark.django_db


def test_post_creates_then_replaces_a_categorys_budget(user_client, user):
    created = user_client.post("/api/v1/budgets/", {"category": "food/groceries", "amount": "100.00"}, format="json")
    assert created.status_code == 201
    assert created.json()["category"] == "food/groceries"
    assert created.json()["amount"] == "100.00"

    replaced = user_client.post("/api/v1/budgets/", {"category": "food/groceries", "amount": "150.00"}, format="json")
    assert replaced.status_code == 200
    assert Budget.objects.get(user=user).amount == 150

    listing = user_client.get("/api/v1/budgets/").json()
    assert listing["count"] == 1
    assert user_client.get(f"/api/v1/budgets/{created.json()['id']}/").json()["amount"] == "150.00"


def test_a_parent_category_can_have_a_budget(user_client):
    response = user_client.post("/api/v1/budgets/", {"category": "food", "amount": "600"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "food/caviar", "amount": "10"}, "category"),
        ({"category": "income/paycheck", "amount": "10"}, "category"),
        ({"category": "food", "amount": "0"}, "amount"),
        ({"category": "food", "amount": "-5"}, "amount"),
        ({"category": "food", "amount": "abc"}, "amount"),
    ],
)
def test_invalid_budgets_are_400s_naming_the_field(user_client, body, field):
    response = user_client.post("/api/v1/budgets/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Budget.objects.exists()
