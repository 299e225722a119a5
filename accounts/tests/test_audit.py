"""Linking, re-keying and removing a connection are audited, by page and by API, with the
connection's id and institution name and never the bank login or password (canaries)."""

from __future__ import annotations

import pytest

from accounts.models import Connection
from accounts.tests.ofx_servers import ACCOUNT_ID, BANK_ID, ofx_server, server_url, statement
from security.models import AuditEvent

pytestmark = pytest.mark.django_db

CANARY_LOGIN = "canary-login-a71f"
CANARY_PASSWORD = "canary-pass-3e90d"
Action = AuditEvent.Action


ACCOUNT_LIST = (
    "<SIGNUPMSGSRSV1><ACCTINFOTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><ACCTINFORS>"
    "<DTACCTUP>20261101080000<ACCTINFO><DESC>Checking<BANKACCTINFO><BANKACCTFROM>"
    f"<BANKID>{BANK_ID}<ACCTID>{ACCOUNT_ID}<ACCTTYPE>CHECKING</BANKACCTFROM><SUPTXDL>Y<XFERSRC>N<XFERDEST>N"
    "<SVCSTATUS>ACTIVE</BANKACCTINFO></ACCTINFO></ACCTINFORS></ACCTINFOTRNRS></SIGNUPMSGSRSV1>"
)


@pytest.fixture
def permissive_bank():
    """An OFX server that lists its account and answers its statement for any login: the canary
    login and password reach a real exchange (the link, then the new credentials)."""
    payload = statement(3).replace(b"</SIGNONMSGSRSV1>", b"</SIGNONMSGSRSV1>" + ACCOUNT_LIST.encode())
    server = ofx_server(payload)
    yield server_url(server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def assert_no_secret_in_any_event() -> None:
    rows = repr(list(AuditEvent.objects.values()))
    assert CANARY_LOGIN not in rows
    assert CANARY_PASSWORD not in rows


def connection_events(user) -> list[tuple[str, dict]]:
    kinds = [Action.CONNECTION_LINKED, Action.CREDENTIALS_REPLACED, Action.CONNECTION_REMOVED]
    return [
        (event.action, event.detail)
        for event in AuditEvent.objects.filter(user=user, action__in=kinds).order_by("at", "id")
    ]


def test_by_page(logged_in, user, permissive_bank, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        linked = logged_in.post(
            "/accounts/link/",
            {
                "account_url": permissive_bank,
                "account_login": CANARY_LOGIN,
                "account_password": CANARY_PASSWORD,
                "account_id": ACCOUNT_ID,
                "bank_id": BANK_ID,
            },
        )
    assert linked.status_code == 302, linked.context and linked.context["form"].errors
    connection = Connection.objects.get(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        replaced = logged_in.post(
            f"/accounts/connections/{connection.pk}/credentials/",
            {"account_login": CANARY_LOGIN, "account_password": CANARY_PASSWORD + "2"},
        )
    assert replaced.status_code == 302
    removed = logged_in.post(f"/accounts/connections/{connection.pk}/disconnect/", {"history": "delete"})
    assert removed.status_code == 302

    about = {"connection_id": connection.pk, "institution": "127.0.0.1"}
    assert connection_events(user) == [
        (Action.CONNECTION_LINKED, about),
        (Action.CREDENTIALS_REPLACED, about),
        (Action.CONNECTION_REMOVED, about),
    ]
    assert AuditEvent.objects.get(action=Action.CONNECTION_LINKED).ip == "127.0.0.1"
    assert_no_secret_in_any_event()


def test_by_api(user_client, user, permissive_bank, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        linked = user_client.post(
            "/api/v1/account",
            {
                "account_url": permissive_bank,
                "account_login": CANARY_LOGIN,
                "account_password": CANARY_PASSWORD,
                "account_id": ACCOUNT_ID,
                "bank_id": BANK_ID,
            },
            format="json",
        )
    assert linked.status_code == 201, linked.content
    connection_id = linked.json()["connection_id"]
    with django_capture_on_commit_callbacks(execute=True):
        replaced = user_client.put(
            f"/api/v1/connections/{connection_id}/credentials",
            {"login": CANARY_LOGIN, "password": CANARY_PASSWORD + "2"},
            format="json",
        )
    assert replaced.status_code == 202, replaced.content
    assert user_client.delete(f"/api/v1/connections/{connection_id}/?history=keep").status_code == 204

    about = {"connection_id": connection_id, "institution": "127.0.0.1"}
    assert connection_events(user) == [
        (Action.CONNECTION_LINKED, about),
        (Action.CREDENTIALS_REPLACED, about),
        (Action.CONNECTION_REMOVED, about),
    ]
    assert_no_secret_in_any_event()


def test_a_refused_login_records_nothing(user_client, user, demo_bank):
    response = user_client.post(
        "/api/v1/account",
        {"account_url": demo_bank.url, "account_login": CANARY_LOGIN, "account_password": CANARY_PASSWORD},
        format="json",
    )
    assert response.status_code == 400
    assert connection_events(user) == []


def test_linking_through_simplefin_is_audited(user_client, user, simplefin_bridge):
    response = user_client.post(
        "/api/v1/connections/simplefin", {"setup_token": simplefin_bridge.setup_token()}, format="json"
    )
    assert response.status_code == 201
    assert connection_events(user) == [
        (
            Action.CONNECTION_LINKED,
            {"connection_id": response.json()["connection_id"], "institution": "SimpleFIN Bridge"},
        )
    ]
