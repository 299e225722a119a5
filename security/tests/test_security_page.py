"""The /security/ page: the user's API tokens with a revoke button, and their recent activity."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from security.models import ApiToken, AuditEvent
from security.services import api_token_create
from security.tests.factories import AuditEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def test_the_page_lists_my_tokens_without_their_keys(logged_in, user, other_user):
    phone = api_token_create(user=user, name="iPhone")
    theirs = api_token_create(user=other_user, name="Their tablet")
    html = logged_in.get("/security/").content.decode()
    assert "iPhone" in html
    assert f"{phone.token.prefix}…" in html
    assert phone.key not in html
    assert phone.token.key_hash not in html
    assert "Their tablet" not in html
    assert theirs.token.prefix not in html


def test_revoking_from_the_page_posts_with_csrf_and_ends_the_token(user):
    phone = api_token_create(user=user, name="iPhone")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    html = browser.get("/security/").content.decode()
    action = f"/security/tokens/{phone.token.pk}/revoke/"
    assert f'action="{action}"' in html
    assert browser.post(action).status_code == 403  # no CSRF token: refused
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert csrf is not None
    response = browser.post(action, {"csrfmiddlewaretoken": csrf.group(1)}, follow=True)
    assert response.redirect_chain[-1][0] == "/security/#api-tokens"
    assert "Revoked “iPhone”" in response.content.decode()
    assert not ApiToken.objects.filter(pk=phone.token.pk).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_REVOKED, user=user).count() == 1


def test_revoking_is_post_only_and_another_users_token_is_not_found(logged_in, other_user):
    theirs = api_token_create(user=other_user, name="Theirs")
    assert logged_in.get(f"/security/tokens/{theirs.token.pk}/revoke/").status_code == 405
    assert logged_in.post(f"/security/tokens/{theirs.token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=theirs.token.pk).exists()


def test_recent_activity_shows_my_last_50_events_only(logged_in, user, other_user):
    AuditEventFactory.create_batch(55, user=user, action=AuditEvent.Action.LOGIN)
    AuditEventFactory(user=other_user, action=AuditEvent.Action.TOKEN_CREATED, detail={"name": "zq-their-canary"})
    response = logged_in.get("/security/")
    html = response.content.decode()
    assert len(response.context["activity"]) == 50
    assert "Signed in" in html
    assert "Safari on iPhone" in html
    assert "from 203.0.113.7" in html
    assert "zq-their-canary" not in html


def test_the_page_needs_a_login(client):
    response = client.get("/security/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
