import pytest

from mint.models import User
from mint.tests.factories import USER_PASSWORD

pytestmark = pytest.mark.django_db


def test_token_for_username_and_password_authenticates_api_calls(api_client, user):
    response = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": USER_PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/accounts/").status_code == 200


def test_wrong_password_gets_no_token(api_client, user):
    response = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "nope"})
    assert response.status_code == 400
    assert "token" not in response.json()


def test_signup_logs_in_and_asks_to_link_an_account(client):
    response = client.post(
        "/signup/",
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "password1": "a-long pass phrase",
            "password2": "a-long pass phrase",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/link/"
    assert client.get("/").status_code == 200
    assert User.objects.get(username="newbie").email == "newbie@example.com"


def test_signup_errors_are_shown_next_to_the_field(client):
    response = client.post("/signup/", {"username": "x", "email": "", "password1": "a", "password2": "b"})
    assert response.status_code == 200
    assert b'id="id_email-errors"' in response.content


def test_login_and_logout(client, user):
    assert client.get("/").status_code == 302
    response = client.post("/login/", {"username": user.username, "password": USER_PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/")["Location"].startswith("/login/")
