"""OFX: Direct Connect to banks (through ofxtools' client) and parsing of OFX/QFX documents."""

from __future__ import annotations

import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar, cast

from ofxtools.Client import CcStmtRq, InvStmtRq, OFXClient, StmtRq
from ofxtools.header import XML_REGEX, OFXHeaderError, OFXHeaderV1
from ofxtools.models.bank import STMTTRNRQ
from ofxtools.models.invest import INVSTMTTRNRQ
from ofxtools.models.ofx import OFX
from ofxtools.Parser import OFXTree, ParseError, TreeBuilder

from accounts.credentials import BankCredentials
from accounts.models import OfxVersion

from .base import (
    CENT,
    MAX_AMOUNT,
    AccountRef,
    ConnectionParams,
    DiscoveredAccount,
    ParsedPayload,
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    Statement,
    StatementLine,
)
from .http import http_post

# The versions the OFX specifications define (1.x is SGML, 2.x is XML), as the models list them.
OFX_VERSIONS = tuple(OfxVersion.values)
# SONRQ limits: APPID is at most 5 characters, APPVER at most 4.
MAX_APP_ID, MAX_APP_VERSION = 5, 4
# Signon status codes that mean "the user must fix their login" rather than "try later".
AUTH_FAILURE_CODES = {15500, 15502, 15510, 15511, 15512, 15513}
# OFX ACCTTYPE -> Account.Kind; the OFX type itself is kept, statement requests need it.
BANK_ACCOUNT_KINDS = {"CHECKING": "checking", "SAVINGS": "savings", "MONEYMRKT": "savings", "CD": "savings"}
MAX_MCC = 9999
_OFX_DATE = re.compile(r"\s*(\d{8})")
_BANK_DATE_TAGS = ("DTPOSTED", "DTUSER", "DTTRADE", "DTSETTLE")
Result = TypeVar("Result")

# Limits on what reaches ofxtools' parser, which is a regular expression feeding ElementTree's
# TreeBuilder: it never expands entities or reads a DTD, but it is slow per tag, ElementTree
# crashes the process (segfault) on a few million nested elements, and its header and CDATA
# patterns backtrack quadratically or worse on long runs of spaces or unclosed sections.
MAX_DEPTH = 32  # real statements nest about 10 deep
MAX_ELEMENTS = 500_000  # start tags: about 40,000 transactions, parsed in about 4 seconds
MAX_HEADER_BYTES = 4096  # everything before <OFX>
MAX_HEADER_SPACE = 64  # the longest run of white space allowed in the header
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_LONG_SPACE = re.compile(rf"\s{{{MAX_HEADER_SPACE + 1}}}")
_CDATA_OPEN = b"<![CDATA["


class _SafeOFXClient(OFXClient):
    """ofxtools' client, sending through our SSRF-checked, size- and time-limited transport."""

    # ACCTID -> the BANKID or BROKERID the bank listed it under. ofxtools puts the client's one
    # id in every request; a connection can hold accounts under several.
    account_bank_ids: dict[str, str]

    def post_request(self, url: str, serialized_request: bytes, timeout: float | None) -> bytes:
        return http_post(url, serialized_request, self.http_headers)

    def stmttrnrq(self, bankid: str, acctid: str, *args: Any, **kwargs: Any) -> STMTTRNRQ:
        return super().stmttrnrq(self.account_bank_ids.get(acctid) or bankid, acctid, *args, **kwargs)

    def invstmttrnrq(self, acctid: str, brokerid: str, *args: Any, **kwargs: Any) -> INVSTMTTRNRQ:
        return super().invstmttrnrq(acctid, self.account_bank_ids.get(acctid) or brokerid, *args, **kwargs)


def _client(
    params: ConnectionParams, credentials: BankCredentials, accounts: Sequence[AccountRef] = ()
) -> _SafeOFXClient:
    version = params.ofx_version
    if version not in OFX_VERSIONS:
        versions = ", ".join(str(defined) for defined in OFX_VERSIONS)
        raise ProviderDataError(f"OFX version {version!r} does not exist; the versions are {versions}.")
    if len(params.app_id) > MAX_APP_ID or len(params.app_version) > MAX_APP_VERSION:
        raise ProviderDataError(
            f"OFX allows an application id (APPID) of at most {MAX_APP_ID} characters "
            f"and an application version (APPVER) of at most {MAX_APP_VERSION}."
        )
    bank_ids = [ref.bank_id for ref in accounts if ref.bank_id and ref.kind != "investment"]
    client = _SafeOFXClient(
        params.url,
        userid=credentials.login,
        org=params.org or None,
        fid=params.fid or None,
        bankid=params.bank_id or (bank_ids[0] if bank_ids else None),
        version=version,
        appid=params.app_id or None,  # blank: ofxtools' defaults (Quicken's)
        appver=params.app_version or None,
        # OFX 1.x is SGML, where data elements have no end tag: some 1.x servers refuse one.
        close_elements=version >= 200,
    )
    client.account_bank_ids = {ref.external_id: ref.bank_id for ref in accounts if ref.bank_id}
    return client


def _request(send: Callable[[], Result]) -> Result:
    """Run an ofxtools request, turning its value errors into a message that quotes nothing.

    ofxtools refuses values the OFX spec does not allow (a 40-character login, say) with an
    error that repeats the value, password included; that text must not reach a log.
    """
    try:
        return send()
    except ProviderError:
        raise
    except (ValueError, TypeError):
        raise ProviderDataError(
            "The login, password or account details cannot be sent to this bank: OFX allows logins of at "
            "most 32 characters and passwords of at most 171."
        ) from None


class _BoundedTreeBuilder(TreeBuilder):
    """ofxtools' tag parser, refusing what no statement holds: elements nested deeper than
    MAX_DEPTH, an end tag that closes another element, anything after the root element, and a
    document that ends with aggregates still open (a truncated download)."""

    # ofxtools' pattern with a lazy CDATA body: the greedy one runs from every CDATA start to the
    # end of the line and back, which is quadratic on a document written on one line.
    regex = re.compile(TreeBuilder.regex.pattern.replace("(?P<cdata>.+)", "(?P<cdata>.+?)"), re.VERBOSE)

    def __init__(self) -> None:
        super().__init__()
        self._open: list[str] = []
        self._root_closed = False

    def start(self, tag: Any, attrs: dict[Any, Any], /) -> ET.Element:
        if self._root_closed:
            raise ParseError(f"<{tag[:40]}> follows the end of the document.")
        if len(self._open) >= MAX_DEPTH:
            raise ParseError(f"Elements are nested more than {MAX_DEPTH} deep.")
        self._open.append(tag)
        return super().start(tag, attrs)

    def end(self, tag: Any, /) -> ET.Element:
        if not self._open or self._open[-1] != tag:
            expected = f"</{self._open[-1]}>" if self._open else "nothing"
            raise ParseError(f"</{tag[:40]}> where {expected} was expected.")
        self._open.pop()
        self._root_closed = not self._open
        return super().end(tag)

    def close(self) -> ET.Element:
        if self._open:
            raise ParseError(f"The document ends inside <{self._open[-1]}>: it is incomplete.")
        return super().close()


def _refuse_hostile(raw: bytes) -> None:
    """Refuse, before ofxtools reads it, what would make its parser crash or run for minutes."""
    if _DECLARATION.search(raw):
        # ofxtools would skip a DTD unread; refusing it says clearly what the document tried.
        raise ProviderDataError("The OFX document contains a DTD or entity declarations, which are not allowed.")
    if raw.count(b"<") - raw.count(b"</") > MAX_ELEMENTS:
        raise ProviderDataError(f"The OFX document has more than {MAX_ELEMENTS:,} elements; import a shorter period.")
    body_at = raw.find(b"<OFX>")
    header = raw[: max(body_at, 0)].decode("ascii", "replace")
    if body_at < 0 or body_at > MAX_HEADER_BYTES or _LONG_SPACE.search(header):
        raise ProviderDataError("Not a valid OFX document: it does not start with an OFX header and <OFX>.")
    # ofxtools looks for a 1.x header anywhere in the document's first lines, which is quadratic in
    # the white space after a header it cannot match: make sure it matches where it starts.
    first_line = next((line for line in header.split("\n") if line.strip()), "")
    if not XML_REGEX.match(first_line) and not OFXHeaderV1.regex.match(header):
        raise ProviderDataError("Not a valid OFX document: its OFX header is malformed.")
    # From an unclosed CDATA section, ofxtools' pattern scans on from every tag that follows.
    start = raw.find(_CDATA_OPEN)
    while start >= 0:
        end = raw.find(b"]]>", start)
        following = raw.find(_CDATA_OPEN, start + 1)
        if end < 0 or 0 <= following < end:
            raise ProviderDataError("Not a valid OFX document: a CDATA section is not closed.")
        start = following


def tree_parse(raw: bytes) -> OFXTree:
    """ofxtools' element tree of an OFX document (1.x SGML or 2.x XML), or ProviderDataError."""
    _refuse_hostile(raw)
    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(raw), parser=_BoundedTreeBuilder())
    except (ParseError, OFXHeaderError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise ProviderDataError(f"Not a valid OFX document: {str(exc)[:200]}") from None
    if tree.getroot() is None:
        raise ProviderDataError("The OFX document is empty.")
    return tree


def _keep_bank_dates(root: ET.Element) -> None:
    """Posted and trade dates are calendar dates in the bank's own offset.

    ofxtools converts `20261031223000[-5:EST]` to an instant in UTC, which is already
    November 1st; the statement says October 31st. Keep the date the bank wrote.
    """
    for element in root.iter():
        if element.tag in _BANK_DATE_TAGS and element.text:
            match = _OFX_DATE.match(element.text)
            if match is None:
                raise ProviderDataError(f"Invalid date {element.text[:40]!r} in <{element.tag}>.")
            element.text = match.group(1)


def _drop_moves_without_cash(root: ET.Element) -> None:
    """Investment transactions with no TOTAL (a split, shares transferred in) move no cash.

    They are not statement lines; dropping them before ofxtools validates them means one the
    bank wrote carelessly cannot fail the whole statement.
    """
    for tranlist in list(root.iter("INVTRANLIST")):
        for txn in list(tranlist):
            if txn.tag not in ("DTSTART", "DTEND", "INVBANKTRAN") and txn.find(".//TOTAL") is None:
                tranlist.remove(txn)


def parse_document(raw: bytes) -> OFX:
    """A validated OFX document, or ProviderDataError saying why it is not one."""
    tree = tree_parse(raw)
    root = cast(ET.Element, tree.getroot())
    try:
        _drop_moves_without_cash(root)
        _keep_bank_dates(root)
        document = cast(OFX, tree.convert())
    except ProviderDataError:
        raise
    except (ParseError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ProviderDataError(f"Not a valid OFX document: {str(exc)[:200]}") from None
    _check_signon(document)
    return document


def _check_signon(document: OFX) -> None:
    signon = document.signonmsgsrsv1
    if signon is None:
        raise ProviderDataError("Not a valid OFX response: it has no signon section.")
    status = signon.sonrs.status
    if status.code == 0:
        return
    message = status.message or f"OFX status {status.code}"
    if status.code in AUTH_FAILURE_CODES:
        raise ProviderAuthError(f"The bank rejected the login: {message}")
    raise ProviderError(f"The bank reported an error: {message}")


def _account_ref(aggregate) -> AccountRef:
    """AccountRef from a BANKACCTFROM, CCACCTFROM or INVACCTFROM.

    (Dispatch on the class: ofxtools aggregates proxy unknown attributes to their
    children, so probing with getattr/hasattr can recurse.)
    """
    match type(aggregate).__name__:
        case "BANKACCTFROM":
            kind = BANK_ACCOUNT_KINDS.get(aggregate.accttype, "other")
            return AccountRef(aggregate.acctid, kind, aggregate.bankid, aggregate.accttype)
        case "INVACCTFROM":
            return AccountRef(aggregate.acctid, "investment", aggregate.brokerid, "INVESTMENT")
        case _:
            return AccountRef(aggregate.acctid, "credit-card", "", "CREDITCARD")


# The account types a user can name for a bank that cannot list its accounts (no ACCTINFO).
ACCOUNT_TYPES = {
    "CHECKING": "Checking",
    "SAVINGS": "Savings",
    "MONEYMRKT": "Money market",
    "CD": "Certificate of deposit",
    "CREDITLINE": "Line of credit",
    "CREDITCARD": "Credit card",
    "INVESTMENT": "Investment",
}


def account_ref_given(account_id: str, account_type: str, bank_id: str) -> AccountRef:
    """The AccountRef for an account the user named (number and OFX type) instead of discovery."""
    if account_type not in ACCOUNT_TYPES:
        raise ProviderDataError(f"Unknown account type {account_type[:20]!r}.")
    match account_type:
        case "CREDITCARD":
            return AccountRef(account_id, "credit-card", "", account_type)
        case "INVESTMENT":
            return AccountRef(account_id, "investment", bank_id, account_type)
        case _:
            return AccountRef(account_id, BANK_ACCOUNT_KINDS.get(account_type, "other"), bank_id, account_type)


def _converted(amount: Decimal, currency) -> Decimal:
    """<CURRENCY>: the amount is in CURSYM; CURRATE converts it to the statement's CURDEF."""
    if currency is not None and amount.is_finite():
        return (amount * currency.currate).quantize(CENT)
    return amount


def _line(txn) -> StatementLine:
    payee = txn.payee
    description = txn.name or (payee.name if payee is not None else None) or txn.memo or ""
    sic = txn.sic
    return StatementLine(
        external_id=txn.fitid,
        posted_on=txn.dtposted.date(),
        amount=_converted(txn.trnamt, txn.currency),
        description=description.strip()[:255],
        memo=(txn.memo or "").strip()[:255],
        mcc=f"{sic:04d}" if sic is not None and 0 <= sic <= MAX_MCC else "",
    )


def _statement(stmtrs) -> Statement:
    tranlist = stmtrs.banktranlist
    ledger = stmtrs.ledgerbal
    return Statement(
        account=_account_ref(stmtrs.account),
        currency=stmtrs.curdef,
        lines=tuple(_line(txn) for txn in (tranlist if tranlist is not None else ())),
        balance=ledger.balamt if ledger is not None else None,
        balance_as_of=ledger.dtasof if ledger is not None else None,
    )


# INCOMETYPE -> how a statement line names it.
INCOME_ACTIONS = {"DIV": "DIVIDEND", "INTEREST": "INTEREST", "CGLONG": "LT CAP GAIN", "CGSHORT": "ST CAP GAIN"}
# What an investment account's cash movements are. Trades move money between cash and
# holdings inside the account, and deposits or withdrawals move it between the user's own
# accounts: transfers, never spending. Cash transactions by their TRNTYPE; the rest by action.
TRANSFER = "transfer/account-transfer"
INVESTMENT_INCOME = "income/interest-income"
INVESTMENT_CASH_CATEGORIES = {
    "INT": INVESTMENT_INCOME,
    "DIV": INVESTMENT_INCOME,
    "FEE": "fees/bank-fee",
    "SRVCHG": "fees/bank-fee",
}
INVESTMENT_ACTION_CATEGORIES = {
    "EXPENSE": "fees/bank-fee",
    "MARGIN INTEREST": "fees/interest",
    **{action: INVESTMENT_INCOME for action in (*INCOME_ACTIONS.values(), "INCOME")},
}
Securities = dict[tuple[str, str], str]  # (UNIQUEIDTYPE, UNIQUEID) -> ticker, else name


def _securities(document: OFX) -> Securities:
    names: Securities = {}
    seclist = document.seclistmsgsrsv1
    for info in seclist.securities if seclist is not None else ():
        secinfo = info.secinfo  # every *INFO holds one SECINFO
        label = (secinfo.ticker or secinfo.secname or "").strip()
        if label:
            names[(secinfo.secid.uniqueidtype, secinfo.secid.uniqueid)] = label
    return names


def _investment_line(txn, securities: Securities) -> StatementLine | None:
    """The cash side of an investment transaction, named like "BUY 10 VTI" or "DIVIDEND VTI".

    (Each type is read through the attributes it defines: see _account_ref.)
    """
    kind = type(txn).__name__
    if kind == "INVBANKTRAN":  # cash in or out, exactly a bank statement's transaction
        line = _line(txn.stmttrn)
        return replace(line, category=INVESTMENT_CASH_CATEGORIES.get(txn.stmttrn.trntype, TRANSFER))
    if kind.startswith(("BUY", "SELL")):
        trade = txn.invbuy if kind.startswith("BUY") else txn.invsell
        action = "BUY" if kind.startswith("BUY") else "SELL"
        return _cash_line(trade, action, securities, trade.units, trade.secid, trade.currency)
    match kind:
        case "INCOME":
            action = INCOME_ACTIONS.get(txn.incometype, "INCOME")
            return _cash_line(txn, action, securities, None, txn.secid, txn.currency)
        case "REINVEST":
            return _cash_line(txn, "REINVEST", securities, txn.units, txn.secid, txn.currency)
        case "INVEXPENSE":
            return _cash_line(txn, "EXPENSE", securities, None, txn.secid, txn.currency)
        case "RETOFCAP":
            return _cash_line(txn, "RETURN OF CAPITAL", securities, None, txn.secid, txn.currency)
        case "MARGININTEREST":
            return _cash_line(txn, "MARGIN INTEREST", securities, None, None, txn.currency)
        case "JRNLFUND":
            return _cash_line(txn, "CASH JOURNAL", securities, None, None, None)
    return None  # CLOSUREOPT, JRNLSEC, SPLIT, TRANSFER: shares move, cash does not


def _cash_line(holder, action: str, securities: Securities, units, secid, currency) -> StatementLine | None:
    """A line from an aggregate holding INVTRAN and TOTAL (the cash effect, signed by the bank)."""
    invtran = holder.invtran
    total = holder.total
    if total is None:
        return None
    memo = (invtran.memo or "").strip()
    words = [action]
    if units is not None and units.is_finite():
        words.append(f"{abs(units).normalize():f}")  # sales state negative units
    security = securities.get((secid.uniqueidtype, secid.uniqueid)) if secid is not None else None
    if secid is not None:
        words.append(security or secid.uniqueid)
    # A security missing from SECLIST: the bank's memo ("SOLD 5 ACME CORP") says more than its CUSIP.
    description = memo if secid is not None and security is None and memo else " ".join(words)
    return StatementLine(
        external_id=invtran.fitid,
        posted_on=invtran.dttrade.date(),
        amount=_converted(total, currency),
        description=description[:255],
        memo=memo[:255],
        category=INVESTMENT_ACTION_CATEGORIES.get(action, TRANSFER),
    )


def _account_value(stmtrs) -> Decimal | None:
    """Cash plus the market value of the positions; None when the statement has no INVBAL."""
    invbal = stmtrs.invbal
    if invbal is None:
        return None
    value = invbal.availcash
    for position in stmtrs.invposlist or ():
        value += _converted(position.invpos.mktval, position.invpos.currency)
    if not value.is_finite() or abs(value) > MAX_AMOUNT:
        raise ProviderDataError("The investment account's balance is not a number, or too large.")
    return value.quantize(CENT)


def _investment_statement(stmtrs, securities: Securities) -> Statement:
    tranlist = stmtrs.invtranlist
    lines = (_investment_line(txn, securities) for txn in (tranlist if tranlist is not None else ()))
    return Statement(
        account=_account_ref(stmtrs.invacctfrom),
        currency=stmtrs.curdef,
        lines=tuple(line for line in lines if line is not None),
        balance=_account_value(stmtrs),
        balance_as_of=stmtrs.dtasof,
    )


# Statement transaction responses, and their statement's attribute.
STATEMENT_RESPONSES = {"STMTTRNRS": "stmtrs", "CCSTMTTRNRS": "ccstmtrs", "INVSTMTTRNRS": "invstmtrs"}


def statements_parse(raw: bytes) -> ParsedPayload:
    """Every usable statement in the document; an account the bank could not serve is a problem, not a failure."""
    document = parse_document(raw)
    securities = _securities(document)
    statements: list[Statement] = []
    problems: list[str] = []
    for section in (document.bankmsgsrsv1, document.creditcardmsgsrsv1, document.invstmtmsgsrsv1):
        for trnrs in section or ():
            attribute = STATEMENT_RESPONSES.get(type(trnrs).__name__)
            if attribute is None:  # a transfer, closing statement or mail response
                continue
            if trnrs.status.code != 0:
                message = trnrs.status.message or f"OFX status {trnrs.status.code}"
                problems.append(f"The bank could not provide a statement: {message}")
                continue
            stmtrs = getattr(trnrs, attribute)
            if stmtrs is None:
                continue
            if attribute == "invstmtrs":
                statements.append(_investment_statement(stmtrs, securities))
            else:
                statements.append(_statement(stmtrs))
    if not statements:
        raise ProviderDataError(
            problems[0] if problems else "The OFX document holds no bank, credit-card or investment statement."
        )
    return ParsedPayload(statements, problems)


class OfxDirectConnect:
    def discover(self, params: ConnectionParams, credentials: BankCredentials) -> list[DiscoveredAccount]:
        client = _client(params, credentials)
        raw = _request(
            lambda: client.request_accounts(
                credentials.password, dtacctup=dt.datetime(1990, 1, 1, tzinfo=dt.UTC), skip_profile=True
            ).read()
        )
        document = parse_document(raw)
        accounts = []
        for trnrs in document.signupmsgsrsv1 or ():
            if trnrs.status.code != 0 or trnrs.acctinfors is None:
                continue
            for info in trnrs.acctinfors:
                for service in info:  # BANKACCTINFO / CCACCTINFO / INVACCTINFO
                    source_attr = {"CCACCTINFO": "ccacctfrom", "INVACCTINFO": "invacctfrom"}.get(
                        type(service).__name__, "bankacctfrom"
                    )
                    ref = _account_ref(getattr(service, source_attr))
                    accounts.append(DiscoveredAccount(ref=ref, name=info.desc or f"Account {ref.external_id[-4:]}"))
        if not accounts:
            raise ProviderDataError("The bank accepted the login but listed no accounts.")
        return accounts

    def fetch(
        self,
        params: ConnectionParams,
        credentials: BankCredentials,
        accounts: Sequence[AccountRef],
        start: dt.date,
        end: dt.date,
    ) -> bytes:
        dtstart = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        dtend = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        requests: list[StmtRq | CcStmtRq | InvStmtRq] = []
        for ref in accounts:
            if ref.kind == "credit-card":
                requests.append(CcStmtRq(acctid=ref.external_id, dtstart=dtstart, dtend=dtend))
            elif ref.kind == "investment":
                if not ref.bank_id:
                    raise ProviderDataError(
                        f"The investment account ending {ref.external_id[-4:]} has no broker id; link it again."
                    )
                requests.append(
                    InvStmtRq(
                        acctid=ref.external_id,
                        dtstart=dtstart,
                        dtend=dtend,
                        inctran=True,
                        incoo=False,  # open orders move no money
                        incpos=True,  # positions and balances make the account's value
                        incbal=True,
                    )
                )
            else:
                accttype = ref.external_type or ("SAVINGS" if ref.kind == "savings" else "CHECKING")
                requests.append(StmtRq(acctid=ref.external_id, accttype=accttype, dtstart=dtstart, dtend=dtend))
        if not requests:
            raise ProviderDataError("This connection has no accounts to fetch.")
        client = _client(params, credentials, accounts)
        return _request(lambda: client.request_statements(credentials.password, *requests, skip_profile=True).read())

    def parse(self, raw: bytes) -> ParsedPayload:
        return statements_parse(raw)
