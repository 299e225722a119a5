"""The OFX Direct Connect provider against the demo bank: a real OFX server on loopback."""

import datetime as dt
import socket
from decimal import Decimal

import pytest

from accounts.credentials import BankCredentials
from accounts.providers.base import ConnectionParams, ProviderAuthError, ProviderDataError, ProviderUnavailable
from accounts.providers.http import UnsafeURL, url_resolve
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
    statements = provider.parse(raw)

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
        return [line.external_id for statement in provider.parse(raw) for line in statement.lines]

    assert fitids() == fitids()


def test_a_new_day_brings_new_transactions(provider, demo_bank):
    params, credentials = ConnectionParams(url=demo_bank.url), BankCredentials("alice", demo_bank.password)
    refs = [account.ref for account in provider.discover(params, credentials)]

    def lines_on(today):
        demo_bank.today = today
        raw = provider.fetch(params, credentials, refs, dt.date(2026, 11, 1), today)
        return {line.external_id for statement in provider.parse(raw) for line in statement.lines}

    before = lines_on(TODAY)
    after = lines_on(TODAY + dt.timedelta(days=1))
    assert before < after


def test_posted_date_is_the_banks_calendar_date_not_utc():
    """22:30 at -5:00 on October 31st is posted on the 31st, though it is November 1st in UTC."""
    raw = (
        b"OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\n"
        b"CHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n"
        b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
        b"<DTSERVER>20261101<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>"
        b"<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>"
        b"<CCSTMTRS><CURDEF>USD<CCACCTFROM><ACCTID>4000001234567899</CCACCTFROM>"
        b"<BANKTRANLIST><DTSTART>20261001<DTEND>20261101"
        b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261031223000.000[-5:EST]<TRNAMT>-23.80"
        b"<FITID>A1<NAME>UBER *TRIP HELP.UBER.COM</STMTTRN>"
        b"</BANKTRANLIST><LEDGERBAL><BALAMT>-23.80<DTASOF>20261101</LEDGERBAL>"
        b"</CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>"
    )
    [statement] = statements_parse(raw)
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
