"""The OFX Direct Connect provider against the demo bank: a real OFX server on loopback."""

import datetime as dt
import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.credentials import BankCredentials
from accounts.providers.base import ConnectionParams, ProviderAuthError, ProviderDataError, ProviderUnavailable
from accounts.providers.http import UnsafeURL, _is_public, url_resolve
from accounts.providers.ofx import OfxDirectConnect, statements_parse

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def provider():
    return OfxDirectConnect()


def test_discover_lists_the_checking_and_card_accounts(provider, demo_bank):
    accounts = provider.discover(ConnectionParams(url=demo_bank.url), BankCredentials("alice", demo_bank.password))
    assert [(a.name, a.ref.kind) for a in accounts] == [
        ("Everyday Checking", "checking"),
        ("Rewards Visa", "credit-card"),
    ]


def test_wrong_password_is_an_auth_error(provider, demo_bank):
    with pytest.raises(ProviderAuthError, match="Invalid user ID or password"):
        provider.discover(ConnectionParams(url=demo_bank.url), BankCredentials("alice", "wrong"))


def test_fetch_then_parse_returns_the_window_with_balances(provider, demo_bank):
    demo_bank.today = TODAY
    params, credentials = ConnectionParams(url=demo_bank.url), BankCredentials("alice", demo_bank.password)
    refs = [account.ref for account in provider.discover(params, credentials)]

    raw = provider.fetch(params, credentials, refs, dt.date(2026, 10, 1), TODAY)
    statements = provider.parse(raw).statements

    assert [statement.account for statement in statements] == refs
    for statement in statements:
        assert statement.balance is not None
        assert statement.lines
        assert all(dt.date(2026, 9, 30) <= line.posted_on <= TODAY for line in statement.lines)
        assert all(isinstance(line.amount, Decimal) for line in statement.lines)
    descriptors = {line.description for statement in statements for line in statement.lines}
    assert {"ACME CORP PAYROLL PPD", "NETFLIX.COM", "PAYMENT THANK YOU - WEB"} <= descriptors


def test_the_same_window_fetched_twice_has_the_same_fitids(provider, demo_bank):
    demo_bank.today = TODAY
    params, credentials = ConnectionParams(url=demo_bank.url), BankCredentials("alice", demo_bank.password)
    refs = [account.ref for account in provider.discover(params, credentials)]

    def fitids():
        raw = provider.fetch(params, credentials, refs, dt.date(2026, 11, 1), TODAY)
        return [line.external_id for statement in provider.parse(raw).statements for line in statement.lines]

    assert fitids() == fitids()


def test_a_new_day_brings_new_transactions(provider, demo_bank):
    params, credentials = ConnectionParams(url=demo_bank.url), BankCredentials("alice", demo_bank.password)
    refs = [account.ref for account in provider.discover(params, credentials)]

    def lines_on(today):
        demo_bank.today = today
        raw = provider.fetch(params, credentials, refs, dt.date(2026, 11, 1), today)
        return {line.external_id for statement in provider.parse(raw).statements for line in statement.lines}

    before = lines_on(TODAY)
    after = lines_on(TODAY + dt.timedelta(days=1))
    assert before < after


def test_posted_date_is_the_banks_calendar_date_not_utc():
    """22:30 at -5:00 on October 31st is posted on the 31st, though it is November 1st in UTC."""
    raw = card_statement(
        b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261031223000.000[-5:EST]<TRNAMT>-23.80"
        b"<FITID>A1<NAME>UBER *TRIP HELP.UBER.COM</STMTTRN>"
    )
    [statement] = statements_parse(raw).statements
    assert statement.lines[0].posted_on == dt.date(2026, 10, 31)


def test_garbage_is_a_data_error():
    with pytest.raises(ProviderDataError, match="Not a valid OFX document"):
        statements_parse(b"this is not an OFX file")


def test_unreachable_bank_is_unavailable(provider):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProviderUnavailable, match="Could not connect"):
        provider.discover(ConnectionParams(url=f"http://127.0.0.1:{port}/ofx"), BankCredentials("a", "b"))


@pytest.mark.parametrize(
    "url",
    [
        "http://ofx.example.com/ofx",  # not HTTPS
        "https://127.0.0.1/ofx",  # loopback
        "https://10.1.2.3/ofx",  # private
        "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "https://[::1]/ofx",
        "file:///etc/passwd",
        "https://user:pw@8.8.8.8/ofx",
    ],
)
def test_outside_demo_mode_only_https_to_public_addresses(settings, url):
    settings.DEMO_MODE = False
    with pytest.raises(UnsafeURL):
        url_resolve(url)


def test_outside_demo_mode_a_public_https_address_is_allowed(settings):
    settings.DEMO_MODE = False
    assert url_resolve("https://8.8.8.8:8443/ofx?x=1") == ("8.8.8.8", 8443, "8.8.8.8", "/ofx?x=1")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("fe80::1%eth0", False),
    ],
)
def test_addresses_that_embed_an_ipv4_address_are_judged_by_it(address, public):
    assert _is_public(address) is public


def test_ofx_limits_on_login_and_password_give_an_error_that_quotes_neither(provider, demo_bank):
    password = "p" * 180 + "-canary"
    with pytest.raises(ProviderDataError) as caught:
        provider.discover(ConnectionParams(url=demo_bank.url), BankCredentials("alice", password))
    assert "canary" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # the library's message, which quotes the value, is dropped


class _Redirector(ThreadingHTTPServer):
    """Answers every POST with a redirect to `target`."""

    def __init__(self, target: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(307)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/ofx"


def test_a_redirect_on_the_same_host_is_followed(provider, demo_bank):
    redirector = _Redirector(demo_bank.url)
    try:
        accounts = provider.discover(ConnectionParams(url=redirector.url), BankCredentials("alice", demo_bank.password))
    finally:
        redirector.shutdown()
    assert len(accounts) == 2


def test_a_redirect_to_another_host_never_receives_the_password(provider, demo_bank):
    redirector = _Redirector(demo_bank.url.replace("127.0.0.1", "localhost"))
    try:
        with pytest.raises(UnsafeURL, match="another host"):
            provider.discover(ConnectionParams(url=redirector.url), BankCredentials("alice", demo_bank.password))
    finally:
        redirector.shutdown()


def test_a_server_that_drips_its_answer_is_cut_off_at_the_deadline(provider, settings):
    settings.PROVIDER_TIMEOUT = 1.0
    listener = socket.create_server(("127.0.0.1", 0))

    def drip() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        try:
            for _ in range(40):
                conn.sendall(b"x")
                time.sleep(0.1)
        except OSError:
            pass
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="did not answer within 1 seconds"):
        provider.discover(
            ConnectionParams(url=f"http://127.0.0.1:{listener.getsockname()[1]}/"), BankCredentials("a", "b")
        )
    assert time.monotonic() - started < 2.5
    listener.close()


def card_statement(*stmttrns: bytes) -> bytes:
    """An OFX 1.x credit-card statement file holding these <STMTTRN> aggregates."""
    return (
        b"OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\n"
        b"CHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n"
        b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
        b"<DTSERVER>20261101<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>"
        b"<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>"
        b"<CCSTMTRS><CURDEF>USD<CCACCTFROM><ACCTID>4000001234567899</CCACCTFROM>"
        b"<BANKTRANLIST><DTSTART>20261001<DTEND>20261101" + b"".join(stmttrns) + b"</BANKTRANLIST>"
        b"<LEDGERBAL><BALAMT>0<DTASOF>20261101</LEDGERBAL></CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>"
    )


def _ofx_with_amount(amount: str, sic: str = "") -> bytes:
    return card_statement(
        b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261030<TRNAMT>"
        + amount.encode()
        + b"<FITID>A1"
        + (b"<SIC>" + sic.encode() if sic else b"")
        + b"<NAME>SHELL OIL 57444212</STMTTRN>"
    )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("NaN", "is not a number"),
        ("1e309", "too large"),
        ("-1E+15", "too large"),
        ("-0.005", "fractions of a cent"),
    ],
)
def test_impossible_amounts_are_refused_with_a_clear_message(amount, message):
    with pytest.raises(ProviderDataError, match=message):
        statements_parse(_ofx_with_amount(amount))


def test_an_out_of_range_sic_is_dropped_not_stored():
    [statement] = statements_parse(_ofx_with_amount("-12.00", sic="123456")).statements
    assert statement.lines[0].mcc == ""
    [statement] = statements_parse(_ofx_with_amount("-12.00", sic="5541")).statements
    assert statement.lines[0].mcc == "5541"


def test_a_foreign_currency_line_is_converted_to_the_statement_currency():
    raw = _ofx_with_amount("-10.00").replace(
        b"57444212</STMTTRN>", b"57444212<CURRENCY><CURRATE>1.0850<CURSYM>EUR</CURRENCY></STMTTRN>"
    )
    [statement] = statements_parse(raw).statements
    assert statement.lines[0].amount == Decimal("-10.85")
