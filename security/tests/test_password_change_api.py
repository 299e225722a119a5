"""POST /api/v1/me/password: the app's own way to change the password."""

import pytest
from rest_framework.test import APIClient

from mint.tests.factories import USER_PASSWORD
from security.models import ApiToken, AuditEvent
from security.services import api_token_create

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a much longer new passphrase"


def token_client(user, name: str = "iPhone") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, name=name).key}")
    return client


def test_a_new_password_signs_out_every_other_app_and_keeps_this_one(user):
    phone, tablet = token_client(user, "iPhone"), token_client(user, "iPad")

    response = phone.post("/api/v1/me/password", {"old_password": USER_PASSWORD, "new_password": NEW_PASSWORD})

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert response.json()["name"] == "iPhone"
    assert tablet.get("/api/v1/transactions/").status_code == 401
    assert phone.get("/api/v1/transactions/").status_code == 401  # the old key is gone too
    phone.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert phone.get("/api/v1/transactions/").status_code == 200
    assert list(ApiToken.objects.filter(user=user).values_list("name", flat=True)) == ["iPhone"]
    assert AuditEvent.objects.filter(user=user, action=AuditEvent.Action.PASSWORD_CHANGED).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"old_password": "not it", "new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": USER_PASSWORD, "new_password": "short"}, "new_password"),
        ({"old_password": USER_PASSWORD, "new_password": "password"}, "new_password"),
        ({"old_password": USER_PASSWORD}, "new_password"),
    ],
)
def test_a_refused_change_names_the_field_and_changes_nothing(user, body, field):
    client = token_client(user)

    response = client.post("/api/v1/me/password", body)

    assert response.status_code == 400
    assert field in response.json()
    assert response.json()["detail"] == response.json()[field][0]
    user.refresh_from_db()
    assert user.check_password(USER_PASSWORD)
    assert client.get("/api/v1/transactions/").status_code == 200
