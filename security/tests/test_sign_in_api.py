"""POST /api/v1/auth/token/: the sign-in limits, and `otp` for users with two-factor sign-in."""

from __future__ import annotations

import pytest

from mint.tests.factories import USER_PASSWORD
from security import services
from security.models import AuditEvent, SignInFailureCount
from security.tests.factories import TOTPDeviceFactory
from security.tests.helpers import app_code

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _one_window(settings):
    settings.LOGIN_ACCOUNT_WINDOW_SECONDS = 10**9
    settings.LOGIN_IP_WINDOW_SECONDS = 10**9


REFUSED = {
    "detail": "Unable to log in with provided credentials.",
    "code": "invalid",
    "non_field_errors": ["Unable to log in with provided credentials."],
}


def works(api_client, token: str) -> bool:
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    ok = api_client.get("/api/v1/accounts/").status_code == 200
    api_client.credentials()
    return ok


def test_without_two_factor_the_endpoint_answers_as_before(api_client, user):
    response = api_client.post(TOKEN_URL, {"username": user.username, "password": USER_PASSWORD})
    assert response.status_code == 200
    assert works(api_client, response.json()["token"])
    wrong = api_client.post(TOKEN_URL, {"username": user.username, "password": "nope"})
    assert wrong.status_code == 400
    assert wrong.json() == REFUSED
    assert AuditEvent.objects.filter(user=user, action=AuditEvent.Action.LOGIN, detail__via="api_token").count() == 1


def test_with_two_factor_a_token_needs_the_code(api_client, user):
    device = TOTPDeviceFactory.create(user=user)
    recovery_codes = services.recovery_codes_regenerate(user=user)
    credentials = {"username": user.username, "password": USER_PASSWORD}

    missing = api_client.post(TOKEN_URL, credentials)
    assert missing.status_code == 400
    assert "token" not in missing.json()
    assert "two-factor" in missing.json()["otp"][0]

    wrong_password = api_client.post(TOKEN_URL, {**credentials, "password": "nope", "otp": app_code(device)})
    assert wrong_password.json() == REFUSED

    wrong = api_client.post(TOKEN_URL, {**credentials, "otp": "000000" if app_code(device) != "000000" else "1"})
    assert wrong.status_code == 400
    assert wrong.json() == {"detail": "That code is not right.", "code": "invalid", "otp": ["That code is not right."]}

    device.throttle_reset()
    code = app_code(device)
    response = api_client.post(TOKEN_URL, {**credentials, "otp": code})
    assert response.status_code == 200
    assert works(api_client, response.json()["token"])

    replay = api_client.post(TOKEN_URL, {**credentials, "otp": code})
    assert replay.status_code == 400
    assert "token" not in replay.json()

    by_recovery_code = api_client.post(TOKEN_URL, {**credentials, "otp": recovery_codes[0]})
    assert by_recovery_code.status_code == 200
    assert api_client.post(TOKEN_URL, {**credentials, "otp": recovery_codes[0]}).status_code == 400

    # The wrong password, the wrong code, the replay and the spent recovery code are failures;
    # the missing code was not.
    assert SignInFailureCount.objects.get(scope="account").failures == 4


def test_past_the_limit_the_endpoint_answers_429_even_for_the_right_password(api_client, user, other_user):
    for n in range(100):
        api_client.post(TOKEN_URL, {"username": user.username, "password": "x"}, REMOTE_ADDR=f"10.1.0.{n}")
    response = api_client.post(TOKEN_URL, {"username": user.username, "password": USER_PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts for this account" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0
    assert "token" not in response.json()
    assert api_client.post(TOKEN_URL, {"username": other_user.username, "password": USER_PASSWORD}).status_code == 200


def test_an_address_failing_across_accounts_gets_429(api_client, user):
    for n in range(50):
        api_client.post(TOKEN_URL, {"username": f"someone{n}", "password": "x"}, REMOTE_ADDR="192.0.2.80")
    blocked = api_client.post(
        TOKEN_URL, {"username": user.username, "password": USER_PASSWORD}, REMOTE_ADDR="192.0.2.80"
    )
    assert blocked.status_code == 429
    assert "from your network" in blocked.json()["detail"]
    other = api_client.post(TOKEN_URL, {"username": user.username, "password": USER_PASSWORD}, REMOTE_ADDR="192.0.2.81")
    assert other.status_code == 200
