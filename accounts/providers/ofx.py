"""OFX: Direct Connect to banks (through ofxtools' client) and parsing of OFX/QFX documents."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

from ofxtools.Client import CcStmtRq, OFXClient, StmtRq
from ofxtools.header import OFXHeaderError
from ofxtools.models.ofx import OFX
from ofxtools.Parser import OFXTree, ParseError

from accounts.credentials import BankCredentials

from .base import (
    CENT,
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

OFX_VERSION = 220
# Signon status codes that mean "the user must fix their login" rather than "try later".
AUTH_FAILURE_CODES = {15500, 15502, 15510, 15511, 15512, 15513}
# OFX ACCTTYPE -> Account.Kind; the OFX type itself is kept, statement requests need it.
BANK_ACCOUNT_KINDS = {"CHECKING": "checking", "SAVINGS": "savings", "MONEYMRKT": "savings", "CD": "savings"}
MAX_MCC = 9999
_OFX_DATE = re.compile(r"\s*(\d{8})")
Result = TypeVar("Result")


class _SafeOFXClient(OFXClient):
    """ofxtools' client, sending through our SSRF-checked, size- and time-limited transport."""

    def post_request(self, url: str, serialized_request: bytes, timeout: float | None) -> bytes:
        return http_post(url, serialized_request, self.http_headers)


def _client(params: ConnectionParams, credentials: BankCredentials, bank_id: str = "") -> _SafeOFXClient:
    return _SafeOFXClient(
        params.url,
        userid=credentials.login,
        org=params.org or None,
        fid=params.fid or None,
        bankid=bank_id or params.bank_id or None,
        version=OFX_VERSION,
    )


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


def _keep_bank_dates(tree: OFXTree) -> None:
    """Posted dates are calendar dates in the bank's own offset.

    ofxtools converts `20261031223000[-5:EST]` to an instant in UTC, which is already
    November 1st; the statement says October 31st. Keep the date the bank wrote.
    """
    root = tree.getroot()
    if root is None:
        raise ProviderDataError("The OFX document is empty.")
    for element in root.iter():
        if element.tag in ("DTPOSTED", "DTUSER") and element.text:
            match = _OFX_DATE.match(element.text)
            if match is None:
                raise ProviderDataError(f"Invalid date {element.text[:40]!r} in <{element.tag}>.")
            element.text = match.group(1)


def parse_document(raw: bytes) -> OFX:
    """A validated OFX document, or ProviderDataError saying why it is not one."""
    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(raw))
        _keep_bank_dates(tree)
        document = cast(OFX, tree.convert())
    except ProviderDataError:
        raise
    except (ParseError, OFXHeaderError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
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


def _line(txn) -> StatementLine:
    payee = txn.payee
    description = txn.name or (payee.name if payee is not None else None) or txn.memo or ""
    amount = txn.trnamt
    if txn.currency is not None and amount.is_finite():
        # <CURRENCY>: the amount is in CURSYM; CURRATE converts it to the statement's CURDEF.
        amount = (amount * txn.currency.currate).quantize(CENT)
    sic = txn.sic
    return StatementLine(
        external_id=txn.fitid,
        posted_on=txn.dtposted.date(),
        amount=amount,
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


def statements_parse(raw: bytes) -> ParsedPayload:
    """Every usable statement in the document; an account the bank could not serve is a problem, not a failure."""
    document = parse_document(raw)
    statements: list[Statement] = []
    problems: list[str] = []
    for section in (document.bankmsgsrsv1, document.creditcardmsgsrsv1):
        for trnrs in section or ():
            if trnrs.status.code != 0:
                message = trnrs.status.message or f"OFX status {trnrs.status.code}"
                problems.append(f"The bank could not provide a statement: {message}")
                continue
            stmtrs = trnrs.ccstmtrs if type(trnrs).__name__ == "CCSTMTTRNRS" else trnrs.stmtrs
            if stmtrs is not None:
                statements.append(_statement(stmtrs))
    if not statements:
        raise ProviderDataError(problems[0] if problems else "The OFX document holds no bank or credit-card statement.")
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
        requests: list[StmtRq | CcStmtRq] = []
        bank_id = params.bank_id or next((ref.bank_id for ref in accounts if ref.bank_id), "")
        for ref in accounts:
            if ref.kind == "credit-card":
                requests.append(CcStmtRq(acctid=ref.external_id, dtstart=dtstart, dtend=dtend))
            elif ref.kind != "investment":  # investment statements (INVSTMTRQ) are not imported yet
                accttype = ref.external_type or ("SAVINGS" if ref.kind == "savings" else "CHECKING")
                requests.append(StmtRq(acctid=ref.external_id, accttype=accttype, dtstart=dtstart, dtend=dtend))
        if not requests:
            raise ProviderDataError("None of this connection's accounts can be fetched by OFX statement request.")
        client = _client(params, credentials, bank_id)
        return _request(lambda: client.request_statements(credentials.password, *requests, skip_profile=True).read())

    def parse(self, raw: bytes) -> ParsedPayload:
        return statements_parse(raw)
