"""SimpleFIN: claiming a setup token, discovery, fetch and parse, against the demo bridge on loopback."""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.credentials import BankCredentials
from accounts.demo_bank.simplefin import DemoSimpleFinServer
from accounts.providers import get_provider
from accounts.providers.base import (
    ConnectionParams,
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderUnavailable,
)
from accounts.providers.http import UnsafeURL, url_basic_auth
from accounts.providers.simplefin import SimpleFin, simplefin_claim, simplefin_params

TODAY = dt.date(2026, 3, 10)
CANARY = "canary-Pa55word-7f3e"


@pytest.fixture
def bridge(simplefin_bridge) -> DemoSimpleFinServer:
    simplefin_bridge.today = TODAY
    return simplefin_bridge


@pytest.fixture
def provider() -> SimpleFin:
    return SimpleFin()


@pytest.fixture
def access_url(bridge) -> str:
    return simplefin_claim(bridge.setup_token())


def _token(url: str) -> str:
    return base64.b64encode(url.encode()).decode()


def _fetch(provider, access_url: str, start: dt.date, end: dt.date = TODAY) -> bytes:
    return provider.fetch(simplefin_params(access_url), BankCredentials(access_url=access_url), [], start, end)


def _account_set(*accounts: dict, errors: list | None = None) -> bytes:
    return json.dumps({"errors": errors or [], "accounts": list(accounts)}).encode()


def _account(*transactions: dict, **fields) -> dict:
    return {
        "org": {"domain": "bank.example", "name": "Example Bank", "sfin-url": "https://bridge.example/simplefin"},
        "id": "ACT-1",
        "name": "Checking",
        "currency": "USD",
        "balance": "100.23",
        "balance-date": 1773144000,  # 2026-03-10 12:00 UTC
        "transactions": list(transactions),
        **fields,
    }


def _txn(**fields) -> dict:
    return {"id": "TRN-1", "posted": 1773144000, "amount": "-12.50", "description": "COFFEE", **fields}


# Claiming ----------------------------------------------------------------------------------


def test_a_setup_token_is_claimed_once(bridge):
    token = bridge.setup_token()

    access_url = simplefin_claim(token)

    assert access_url.startswith("http://demo:")
    assert access_url.endswith(f"@127.0.0.1:{bridge.httpd.server_address[1]}/simplefin")
    with pytest.raises(ProviderAuthError, match="already used or is not valid"):
        simplefin_claim(token)


@pytest.mark.parametrize(
    ("token", "error", "message"),
    [
        ("", ProviderDataError, "not a SimpleFIN setup token"),
        ("garbage!", ProviderDataError, "not a SimpleFIN setup token"),
        ("https://bridge.example/claim/x", ProviderDataError, "not a SimpleFIN setup token"),  # not base64
        (_token("not a url at all"), ProviderDataError, "not a SimpleFIN setup token"),
        (base64.b64encode(b"\xff\xfe\x00binary").decode(), ProviderDataError, "not a SimpleFIN setup token"),
        (_token("ftp://bridge.example/claim/x"), UnsafeURL, "https://"),
        (_token("file:///etc/passwd"), UnsafeURL, "https://"),
        (_token("https://user:pw@bridge.example/claim/x"), ProviderDataError, "not a SimpleFIN setup token"),
    ],
)
def test_a_token_that_is_not_base64_of_a_web_address_is_refused(token, error, message):
    with pytest.raises(error, match=message):
        simplefin_claim(token)


def test_outside_demo_mode_a_token_for_a_loopback_address_is_refused_before_connecting(bridge, settings):
    token = bridge.setup_token()
    claim_url = base64.b64decode(token).decode()
    settings.DEMO_MODE = False

    with pytest.raises(UnsafeURL):
        simplefin_claim(token)  # http://
    with pytest.raises(UnsafeURL, match="private or local"):
        simplefin_claim(_token(claim_url.replace("http://", "https://")))

    settings.DEMO_MODE = True
    assert simplefin_claim(token)  # nothing reached the bridge: the token is still unclaimed


class _WrongClaimAnswer(BaseHTTPRequestHandler):
    answers = [b"<html>Welcome!</html>", b"https://bridge.example/simplefin", b"\xff\xfe"]

    def do_POST(self) -> None:
        body = self.answers[int(self.path.rsplit("/", 1)[1])]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("answer", range(len(_WrongClaimAnswer.answers)))
def test_a_claim_answered_with_anything_but_an_access_url_is_refused(answer):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WrongClaimAnswer)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        with pytest.raises(ProviderDataError, match="did not answer the claim with an access URL"):
            simplefin_claim(_token(f"http://127.0.0.1:{server.server_address[1]}/claim/{answer}"))
    finally:
        server.shutdown()
        server.server_close()


def test_access_urls_survive_a_bridge_restart_with_the_same_secret(provider):
    first = DemoSimpleFinServer(secret=b"k" * 32).start()
    access_url = simplefin_claim(first.setup_token())
    port = first.httpd.server_address[1]
    first.stop()

    again = DemoSimpleFinServer(port=port, secret=b"k" * 32).start()
    try:
        accounts = provider.discover(simplefin_params(access_url), BankCredentials(access_url=access_url))
    finally:
        again.stop()

    assert len(accounts) == 2


def test_params_hold_the_origin_without_the_login(access_url, bridge):
    params = simplefin_params(access_url)

    assert params.url == bridge.origin
    assert "demo" not in params.url


def test_the_provider_is_registered():
    assert isinstance(get_provider("simplefin"), SimpleFin)


# Discover, fetch, parse ----------------------------------------------------------------------


def test_discover_lists_the_bridges_accounts(provider, access_url, bridge):
    accounts = provider.discover(simplefin_params(access_url), BankCredentials(access_url=access_url))

    assert [(a.name, a.ref.kind, a.ref.external_type, a.currency) for a in accounts] == [
        ("Demo Bank Everyday Checking", "checking", "SIMPLEFIN", "USD"),
        ("Demo Bank Rewards Visa", "credit-card", "SIMPLEFIN", "USD"),
    ]
    assert all(a.ref.external_id.startswith("ACT-") for a in accounts)


def test_fetch_then_parse_gives_decimal_amounts_pending_lines_and_balances(provider, access_url):
    parsed = provider.parse(_fetch(provider, access_url, TODAY - dt.timedelta(days=30)))

    assert parsed.problems == []
    checking, card = parsed.statements
    assert checking.currency == "USD"
    assert isinstance(checking.balance, Decimal)
    assert checking.balance_as_of is not None
    assert checking.balance_as_of.tzinfo is not None
    assert checking.lines
    assert all(isinstance(line.amount, Decimal) for line in checking.lines + card.lines)
    assert all(TODAY - dt.timedelta(days=30) <= line.posted_on <= TODAY for line in checking.lines)
    assert any(line.description == "ACME CORP PAYROLL PPD" for line in checking.lines)
    posted = [line for line in card.lines if not line.pending]
    assert posted
    assert all(TODAY - dt.timedelta(days=30) <= line.posted_on < TODAY for line in posted)
    # Today's card purchases are pending, dated by when they were made (in UTC: an evening one is tomorrow).
    pending = [line for line in card.lines if line.pending]
    assert pending
    assert all(line.posted_on in (TODAY, TODAY + dt.timedelta(days=1)) and line.amount < 0 for line in pending)
    assert not any(line.pending for line in checking.lines)


def test_a_pending_purchase_keeps_its_id_when_it_posts_the_next_day(provider, access_url, bridge):
    today = provider.parse(_fetch(provider, access_url, TODAY - dt.timedelta(days=2)))
    pending = {line.external_id: line for line in today.statements[1].lines if line.pending}

    bridge.today = TODAY + dt.timedelta(days=1)
    tomorrow = provider.parse(_fetch(provider, access_url, TODAY - dt.timedelta(days=2), bridge.today))
    lines = {line.external_id: line for line in tomorrow.statements[1].lines}

    assert pending
    for external_id, line in pending.items():
        assert not lines[external_id].pending
        assert (lines[external_id].amount, lines[external_id].description) == (line.amount, line.description)


def test_the_same_window_fetched_twice_has_the_same_ids(provider, access_url):
    first = provider.parse(_fetch(provider, access_url, TODAY - dt.timedelta(days=40)))
    second = provider.parse(_fetch(provider, access_url, TODAY - dt.timedelta(days=40)))

    ids = [[line.external_id for line in statement.lines] for statement in first.statements]
    assert ids == [[line.external_id for line in statement.lines] for statement in second.statements]
    assert all(len(set(statement)) == len(statement) for statement in ids)


def test_a_window_longer_than_the_bridge_serves_is_fetched_in_parts(provider, access_url):
    start = TODAY - dt.timedelta(days=200)

    parsed = provider.parse(_fetch(provider, access_url, start))

    card_lines = parsed.statements[1].lines
    assert min(line.posted_on for line in card_lines) <= start + dt.timedelta(days=3)
    assert len({line.external_id for line in card_lines}) == len(card_lines)
    assert parsed.problems == []


def test_revoked_access_is_an_auth_error(provider, access_url, bridge):
    bridge.revoke()

    with pytest.raises(ProviderAuthError, match="revoked"):
        provider.discover(simplefin_params(access_url), BankCredentials(access_url=access_url))
    with pytest.raises(ProviderAuthError, match="revoked"):
        _fetch(provider, access_url, TODAY - dt.timedelta(days=3))


def test_a_wrong_password_is_an_auth_error(provider, access_url):
    wrong = access_url.replace("@127", "x@127")

    with pytest.raises(ProviderAuthError, match="revoked"):
        provider.discover(simplefin_params(wrong), BankCredentials(access_url=wrong))


def test_a_bridge_error_becomes_a_problem_without_its_links(provider, access_url, bridge):
    bridge.errors = ["Connection to <b>Demo Bank</b> may need attention: see https://bridge.example/x?token=abc"]

    parsed = provider.parse(_fetch(provider, access_url, TODAY - dt.timedelta(days=3)))

    assert len(parsed.statements) == 2
    assert parsed.problems == ["The SimpleFIN Bridge reported: Connection to Demo Bank may need attention: see"]


def test_an_attention_error_without_accounts_is_an_auth_error(provider):
    raw = _account_set(errors=["<p>You must reauthenticate with Example Bank.</p>"])

    with pytest.raises(ProviderAuthError, match=r"^SimpleFIN Bridge: You must reauthenticate with Example Bank\.$"):
        provider.parse(raw)


def test_version_2_error_codes_are_understood(provider):
    raw = json.dumps(
        {
            "errlist": [
                {"code": "gen.api", "msg": "Requested date range exceeds limit of 90 days and was capped."},
                {"code": "con.auth", "msg": "Authentication failed for My Bank - Jim", "conn_id": "CON-1"},
            ],
            "errors": ["Authentication failed for My Bank - Jim"],
            "connections": [{"conn_id": "CON-1", "name": "My Bank - Jim", "org_id": "ORG-1", "sfin_url": "x"}],
            "accounts": [],
        }
    ).encode()

    with pytest.raises(ProviderAuthError, match=r"^SimpleFIN Bridge: Authentication failed for My Bank - Jim$"):
        provider.parse(raw)


@pytest.mark.parametrize("raw", [b"", b"<html>502 Bad Gateway</html>", b"[]", b'{"errors": []}', b'{"accounts": 3}'])
def test_something_that_is_not_an_account_set_is_a_data_error(provider, raw):
    with pytest.raises(ProviderDataError, match="SimpleFIN Bridge"):
        provider.parse(raw)


def test_parse_reads_pending_and_posted_dates_in_utc(provider):
    raw = _account_set(
        _account(
            _txn(id="A", posted=1773186600),  # 2026-03-10 23:50 UTC (18:50 in New York)
            _txn(id="B", posted=0, transacted_at=1773187200, pending=True),  # 2026-03-11 00:00 UTC
            _txn(id="C", posted=0),  # pending, no time of its own: the balance date
            _txn(id="D", description="", payee="Corner Deli", memo="  table\n4 "),
        )
    )

    lines = {line.external_id: line for line in provider.parse(raw).statements[0].lines}

    assert (lines["A"].posted_on, lines["A"].pending) == (dt.date(2026, 3, 10), False)
    assert (lines["B"].posted_on, lines["B"].pending) == (dt.date(2026, 3, 11), True)
    assert (lines["C"].posted_on, lines["C"].pending) == (dt.date(2026, 3, 10), True)
    assert (lines["D"].description, lines["D"].memo) == ("Corner Deli", "table 4")


def test_account_kinds_names_and_long_ids(provider):
    long_id = "ACT-" + "x" * 100
    raw = _account_set(
        _account(id="1", name="Sapphire Preferred Card"),
        _account(id="2", name="High Yield Savings"),
        _account(id="3", name="Brokerage Individual"),
        _account(id="4", name="Roth IRA"),
        _account(id=long_id, name="Share Draft (Navy Federal Credit Union)"),
    )

    statements = provider.parse(raw).statements

    assert [s.account.kind for s in statements] == ["credit-card", "savings", "investment", "investment", "checking"]
    long_ref = statements[-1].account.external_id
    assert len(long_ref) <= 64
    assert long_ref.startswith("sha256:")
    assert provider.parse(raw).statements[-1].account.external_id == long_ref  # stable


def test_an_account_in_a_custom_currency_is_skipped(provider):
    raw = _account_set(_account(), _account(id="miles", currency="https://airline.example/miles"))

    assert [s.account.external_id for s in provider.parse(raw).statements] == ["ACT-1"]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1e309", "is not a number"),
        ("NaN", "is not a number"),
        ("Infinity", "is not a number"),
        ("12.345", "fractions of a cent"),
        ("1000000000000.00", "too large"),
        (-12.5, "is not a number"),  # a JSON number, not the numeric string the protocol requires
        ("", "is not a number"),
    ],
)
def test_impossible_amounts_are_refused_with_a_clear_message(provider, amount, message):
    with pytest.raises(ProviderDataError, match=message):
        provider.parse(_account_set(_account(_txn(amount=amount))))


def test_a_bad_account_is_a_problem_and_the_others_still_import(provider):
    raw = _account_set(_account(), _account(_txn(amount="NaN"), id="ACT-2", name="Savings"))

    parsed = provider.parse(raw)

    assert [s.account.external_id for s in parsed.statements] == ["ACT-1"]
    assert parsed.problems == ["Example Bank Savings: The amount of transaction 'TRN-1' is not a number."]


def test_json_constants_are_not_numbers(provider):
    with pytest.raises(ProviderDataError, match="not JSON"):
        provider.parse(b'{"errors": [], "accounts": [], "x": NaN}')


# Secrets -----------------------------------------------------------------------------------


def test_credentials_repr_hides_the_access_url():
    credentials = BankCredentials(access_url=f"https://user:{CANARY}@bridge.example/simplefin")

    assert CANARY not in repr(credentials)
    assert "bridge.example" not in repr(credentials)


def _free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


@pytest.mark.parametrize(
    "access_url",
    [
        f"http://demo:{CANARY}@127.0.0.1:{{port}}/simplefin",  # the bridge refuses it
        f"http://demo:{CANARY}@127.0.0.1:{{closed}}/simplefin",  # nothing listens
        f"ftp://demo:{CANARY}@127.0.0.1:{{port}}/simplefin",  # wrong scheme
        f"http://demo:{CANARY}@127.0.0.1:99999/simplefin",  # invalid port
        f"http://demo:{CANARY}@exa\u2100mple.com/simplefin",  # urlsplit's own error quotes the netloc
        f"http://demo:{CANARY}@host.invalid/simplefin",  # no such host
        f"http://demo:{CANARY}@127.0.0.1:{{port}}/simplefin\n",  # a control character
        f"http://:{CANARY}@127.0.0.1:{{port}}/simplefin",  # no user
    ],
)
def test_no_error_quotes_the_access_url_or_its_password(provider, bridge, access_url):
    url = access_url.format(port=bridge.origin.rsplit(":", 1)[1], closed=_free_port())
    credentials = BankCredentials(access_url=url)

    for call in (
        lambda: provider.discover(simplefin_params(url), credentials),
        lambda: provider.fetch(simplefin_params(url), credentials, [], TODAY, TODAY),
        lambda: provider.discover(ConnectionParams(url=bridge.origin), credentials),  # params are display only
    ):
        with pytest.raises(ProviderError) as caught:
            call()
        error: BaseException | None = caught.value
        while error is not None:  # nor does any exception it was raised from or while handling
            text = f"{error} {error!r}"
            assert CANARY not in text
            assert url.strip() not in text
            error = error.__cause__ or error.__context__


def test_an_unreachable_bridge_is_unavailable(provider):
    url = f"http://demo:{CANARY}@127.0.0.1:{_free_port()}/simplefin"

    with pytest.raises(ProviderUnavailable, match=r"Could not connect to 127\.0\.0\.1"):
        provider.discover(simplefin_params(url), BankCredentials(access_url=url))


def test_url_basic_auth_moves_the_login_into_a_header():
    url, headers = url_basic_auth("https://us%40er:p%3Ass@bridge.example:8443/simplefin")

    assert url == "https://bridge.example:8443/simplefin"
    assert headers == {"Authorization": "Basic " + base64.b64encode(b"us@er:p:ss").decode()}
    assert url_basic_auth("https://bridge.example/x") == ("https://bridge.example/x", {})
