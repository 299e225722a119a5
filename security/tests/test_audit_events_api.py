"""GET /api/v1/security/events/: the caller's own audit events, newest first, in pages."""

from __future__ import annotations

import pytest

from security.models import AuditEvent
from security.tests.factories import AuditEventFactory
from security.user_agents import user_agent_summary

pytestmark = pytest.mark.django_db


def test_my_events_newest_first_in_pages(user_client, user, other_user):
    AuditEventFactory.create_batch(51, user=user, action=AuditEvent.Action.LOGIN)
    newest = AuditEventFactory.create(user=user, action=AuditEvent.Action.EXPORT, detail={"format": "csv"})
    AuditEventFactory(user=other_user, action=AuditEvent.Action.TOKEN_CREATED)
    body = user_client.get("/api/v1/security/events/").json()
    assert body["count"] == 52
    assert len(body["results"]) == 50
    assert body["next"]
    first = body["results"][0]
    assert first == {
        "id": newest.pk,
        "at": first["at"],
        "action": "export",
        "description": "Data exported",
        "ip": "203.0.113.7",
        "user_agent": newest.user_agent,
        "browser": "Safari on iPhone",
        "detail": {"format": "csv"},
    }
    rest = user_client.get(body["next"]).json()["results"]
    assert len(rest) == 2
    assert all(row["action"] == "login" for row in rest)


def test_anonymous_gets_nothing(api_client):
    assert api_client.get("/api/v1/security/events/").status_code == 401


@pytest.mark.parametrize(
    ("user_agent", "summary"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0",
            "Edge on Windows",
        ),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Gecko/20100101 Firefox/133.0", "Firefox on macOS"),
        ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36", "Chrome on Android"),
        ("okhttp/4.12.0", "Android app"),
        ("", "Unknown"),
    ],
)
def test_browsers_are_named_as_people_know_them(user_agent, summary):
    assert user_agent_summary(user_agent) == summary
