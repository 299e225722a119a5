"""The real owner can reset their password while guessing has locked the account."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from mint.tests.factories import USER_PASSWORD
from security.models import ApiToken, AuditEvent, SignInFailureCount
from security.services import api_token_create
from security.tests.factories import TOTPDeviceFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new pass phrase"


@pytest.fixture(autouse=True)
def _one_window(settings):
    settings.LOGIN_ACCOUNT_WINDOW_SECONDS = 10**9
    settings.SITE_URL = "https://mint.example"


def lock_out(client, user) -> None:
    for n in range(100):
        client.post("/login/", {"username": user.username, "password": "guess"}, REMOTE_ADDR=f"10.9.0.{n}")
    response = client.post("/login/", {"username": user.username, "password": USER_PASSWORD})
    assert "Too many failed sign-in attempts for this account" in response.content.decode()


def reset_link(mailoutbox) -> str:
    assert len(mailoutbox) == 1
    match = re.search(r"https://mint\.example(/security/password/reset/[^/\s]+/[^/\s]+/)", mailoutbox[0].body)
    assert match, mailoutbox[0].body
    return match.group(1)


def test_a_locked_out_user_resets_the_password_and_signs_in(client, user, mailoutbox):
    lock_out(client, user)
    login_page = client.get("/login/").content.decode()
    assert 'href="/security/password/reset/"' in login_page
    assert "Forgot your password?" in login_page

    response = client.post("/security/password/reset/", {"email": user.email})
    assert response["Location"] == "/security/password/reset/sent/"
    assert mailoutbox[0].to == [user.email]
    assert mailoutbox[0].subject == "Reset your Mint password"
    link = reset_link(mailoutbox)

    set_password_page = client.get(link)  # Django swaps the token for a session marker, then shows the form
    response = client.post(
        set_password_page["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response["Location"] == "/security/password/reset/complete/"
    assert "_auth_user_id" not in client.session  # a reset does not sign in
    assert not SignInFailureCount.objects.filter(scope="account", key=user.username.casefold())

    response = client.post("/login/", {"username": user.username, "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    actions = set(AuditEvent.objects.filter(user=user).values_list("action", flat=True))
    assert {AuditEvent.Action.PASSWORD_RESET_REQUESTED, AuditEvent.Action.PASSWORD_RESET} <= actions
    assert client.get(link).context["validlink"] is False  # the link works once


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, user, mailoutbox):
    response = client.post("/security/password/reset/", {"email": "nobody@example.com"})
    assert response["Location"] == "/security/password/reset/sent/"
    assert mailoutbox == []
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET_REQUESTED).exists()


def test_a_reset_does_not_get_round_two_factor_sign_in(client, user, mailoutbox):
    TOTPDeviceFactory.create(user=user)
    client.post("/security/password/reset/", {"email": user.email})
    set_password_page = client.get(reset_link(mailoutbox))
    client.post(set_password_page["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    response = client.post("/login/", {"username": user.username, "password": NEW_PASSWORD})
    assert response["Location"] == "/security/sign-in/code/"
    assert "_auth_user_id" not in client.session


def test_a_reset_signs_out_every_app(client, user, mailoutbox):
    phone = APIClient()
    phone.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, name='phone').key}")
    assert phone.get("/api/v1/accounts/").status_code == 200  # cached

    client.post("/security/password/reset/", {"email": user.email})
    set_password_page = client.get(reset_link(mailoutbox))
    response = client.post(
        set_password_page["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    assert "Any browser or app that was signed in as you has been signed out." in response.content.decode()
    assert phone.get("/api/v1/accounts/").status_code == 401
    assert not ApiToken.objects.filter(user=user).exists()
    revoked = AuditEvent.objects.get(user=user, action=AuditEvent.Action.TOKEN_REVOKED)
    assert revoked.detail["reason"] == "password reset"
