"""An OFX Direct Connect server speaking the real protocol over HTTP, built on ofxtools.

It answers signon, account discovery (ACCTINFO) and bank, credit-card and investment
statement requests, in OFX 1.x SGML (data elements without end tags, as 1.x banks write
them) or 2.x XML, whichever version the client sent, for any login whose password is
`demo`. Run it with `python manage.py demo_bank` or in-process through `DemoBankServer`;
`DemoBank.last_signon` tells tests what the last request identified itself as.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

from ofxtools import utils
from ofxtools.header import OFXHeaderV1, OFXHeaderV2, make_header
from ofxtools.models.bank import (
    BANKACCTFROM,
    BANKACCTINFO,
    BANKMSGSRSV1,
    BANKTRANLIST,
    CCACCTFROM,
    CCACCTINFO,
    CCSTMTRS,
    CCSTMTTRNRS,
    CREDITCARDMSGSRSV1,
    LEDGERBAL,
    STMTRS,
    STMTTRN,
    STMTTRNRS,
)
from ofxtools.models.common import STATUS
from ofxtools.models.invest import (
    BUYMF,
    INCOME,
    INVACCTFROM,
    INVACCTINFO,
    INVBAL,
    INVBANKTRAN,
    INVBUY,
    INVPOS,
    INVPOSLIST,
    INVSTMTMSGSRSV1,
    INVSTMTRS,
    INVSTMTTRNRS,
    INVTRAN,
    INVTRANLIST,
    MFINFO,
    POSMF,
    SECID,
    SECINFO,
    SECLIST,
    SECLISTMSGSRSV1,
)
from ofxtools.models.ofx import OFX
from ofxtools.models.signon import SIGNONMSGSRSV1, SONRS
from ofxtools.models.signup import ACCTINFO, ACCTINFORS, ACCTINFOTRNRS, SIGNUPMSGSRSV1

from accounts.providers.ofx import tree_parse

from .persona import BANK_TZ, INDEX_FUND, PASSWORD, DemoAccount, DemoTrade, Persona, persona_for

logger = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 256 * 1024
_CLOSED_DATA_ELEMENT = re.compile(rb"</(?:USERID|USERPASS|LANGUAGE|APPID|APPVER)>")
# Datetimes the bank writes in its own offset, by FITID: ofxtools would write them in UTC.
BankTimes = dict[str, dict[str, str]]


@dataclass(frozen=True)
class Signon:
    """How a request identified itself (never its password)."""

    version: int
    userid: str
    appid: str
    appver: str
    closes_data_elements: bool  # 1.x SGML may leave <APPID>QWIN unclosed; 2.x XML may not


def _status(code: int = 0, message: str | None = None) -> STATUS:
    return STATUS(code=code, severity="INFO" if code == 0 else "ERROR", message=message)


def _bank_time(moment: dt.datetime) -> str:
    """OFX datetime in the bank's own offset, as real banks send it."""
    local = moment.astimezone(BANK_TZ)
    return f"{local:%Y%m%d%H%M%S}.000[-5:EST]"


class DemoBank:
    def __init__(self, today: Callable[[], dt.date] | None = None) -> None:
        self.today = today or (lambda: dt.datetime.now(BANK_TZ).date())
        self.last_signon: Signon | None = None

    def respond(self, request_body: bytes) -> bytes:
        tree = tree_parse(request_body)
        version = int(cast(OFXHeaderV1 | OFXHeaderV2, tree.header).version)  # answer in the client's version
        request = tree.convert()
        sonrq = request.signonmsgsrqv1.sonrq
        self.last_signon = Signon(
            version=version,
            userid=sonrq.userid or "",
            appid=sonrq.appid,
            appver=sonrq.appver,
            closes_data_elements=_CLOSED_DATA_ELEMENT.search(request_body) is not None,
        )
        now = dt.datetime.now(dt.UTC)
        if not sonrq.userid or sonrq.userpass != PASSWORD:
            signon = SONRS(status=_status(15500, "Invalid user ID or password"), dtserver=now, language="ENG")
            return self._serialize(OFX(signonmsgsrsv1=SIGNONMSGSRSV1(sonrs=signon)), {}, version)
        persona = persona_for(sonrq.userid)
        sections: dict[str, object] = {
            "signonmsgsrsv1": SIGNONMSGSRSV1(sonrs=SONRS(status=_status(), dtserver=now, language="ENG"))
        }
        posted: BankTimes = {}
        if getattr(request, "signupmsgsrqv1", None) is not None:
            sections["signupmsgsrsv1"] = SIGNUPMSGSRSV1(
                *[self._account_info(trnrq, persona, now) for trnrq in request.signupmsgsrqv1]
            )
        if getattr(request, "bankmsgsrqv1", None) is not None:
            sections["bankmsgsrsv1"] = BANKMSGSRSV1(
                *[self._statement(trnrq, persona, posted) for trnrq in request.bankmsgsrqv1]
            )
        if getattr(request, "creditcardmsgsrqv1", None) is not None:
            sections["creditcardmsgsrsv1"] = CREDITCARDMSGSRSV1(
                *[self._statement(trnrq, persona, posted) for trnrq in request.creditcardmsgsrqv1]
            )
        if getattr(request, "invstmtmsgsrqv1", None) is not None:
            sections["invstmtmsgsrsv1"] = INVSTMTMSGSRSV1(
                *[self._investment_statement(trnrq, persona, posted) for trnrq in request.invstmtmsgsrqv1]
            )
            sections["seclistmsgsrsv1"] = SECLISTMSGSRSV1(SECLIST(self._fund_info()))
        return self._serialize(OFX(**sections), posted, version)

    def _account_info(self, trnrq, persona: Persona, now: dt.datetime) -> ACCTINFOTRNRS:
        infos = []
        for account in persona.accounts + persona.investment_accounts:
            service: CCACCTINFO | BANKACCTINFO | INVACCTINFO
            if account.kind == "INVESTMENT":
                service = INVACCTINFO(
                    invacctfrom=self._invacctfrom(account),
                    usproducttype="NORMAL",
                    checking=False,
                    svcstatus="ACTIVE",
                    invaccttype="INDIVIDUAL",
                )
            elif account.kind == "CREDITCARD":
                service = CCACCTINFO(
                    ccacctfrom=CCACCTFROM(acctid=account.acctid),
                    suptxdl=True,
                    xfersrc=False,
                    xferdest=True,
                    svcstatus="ACTIVE",
                )
            else:
                service = BANKACCTINFO(
                    bankacctfrom=self._bankacctfrom(account),
                    suptxdl=True,
                    xfersrc=True,
                    xferdest=True,
                    svcstatus="ACTIVE",
                )
            infos.append(ACCTINFO(service, desc=account.name))
        return ACCTINFOTRNRS(trnuid=trnrq.trnuid, status=_status(), acctinfors=ACCTINFORS(*infos, dtacctup=now))

    @staticmethod
    def _bankacctfrom(account: DemoAccount) -> BANKACCTFROM:
        return BANKACCTFROM(bankid=account.bankid, acctid=account.acctid, accttype=account.kind)

    @staticmethod
    def _invacctfrom(account: DemoAccount) -> INVACCTFROM:
        return INVACCTFROM(brokerid=account.bankid, acctid=account.acctid)

    def _window(self, inctran) -> tuple[dt.date, dt.date]:
        """The statement request's INCTRAN window, as dates at the bank; today when it has none."""
        today = self.today()
        # (ofxtools aggregates are lists: an INCTRAN with no children is falsy, so test for None.)
        has_window = inctran is not None
        start = inctran.dtstart.astimezone(BANK_TZ).date() if has_window and inctran.dtstart else today
        end = inctran.dtend.astimezone(BANK_TZ).date() if has_window and inctran.dtend else today
        return start, end

    def _statement(self, trnrq, persona: Persona, posted: BankTimes):
        is_card = type(trnrq).__name__ == "CCSTMTTRNRQ"
        statement_request = trnrq.ccstmtrq if is_card else trnrq.stmtrq
        acctfrom = statement_request.ccacctfrom if is_card else statement_request.bankacctfrom
        response_class = CCSTMTTRNRS if is_card else STMTTRNRS
        account = persona.account(acctfrom.acctid)
        if account is None or (account.kind == "CREDITCARD") != is_card:
            return response_class(trnuid=trnrq.trnuid, status=_status(10500, "Invalid account"))
        today = self.today()
        start, end = self._window(statement_request.inctran)
        transactions = persona.transactions(account, start, end, today)
        lines = []
        for txn in transactions:
            posted[txn.fitid] = {"DTPOSTED": _bank_time(txn.posted_at)}
            lines.append(
                STMTTRN(
                    trntype=txn.trntype,
                    dtposted=txn.posted_at.astimezone(utils.UTC),
                    trnamt=txn.amount,
                    fitid=txn.fitid,
                    name=txn.name,
                    sic=txn.sic,
                )
            )
        as_of = dt.datetime.combine(today, dt.time(23, 59), tzinfo=BANK_TZ).astimezone(utils.UTC)
        window_start = dt.datetime.combine(start, dt.time(), tzinfo=BANK_TZ).astimezone(utils.UTC)
        tranlist = BANKTRANLIST(*lines, dtstart=window_start, dtend=as_of)
        ledger = LEDGERBAL(balamt=persona.balance(account, today), dtasof=as_of)
        if is_card:
            card_statement = CCSTMTRS(
                curdef="USD", ccacctfrom=CCACCTFROM(acctid=account.acctid), banktranlist=tranlist, ledgerbal=ledger
            )
            return CCSTMTTRNRS(trnuid=trnrq.trnuid, status=_status(), ccstmtrs=card_statement)
        bank_statement = STMTRS(
            curdef="USD", bankacctfrom=self._bankacctfrom(account), banktranlist=tranlist, ledgerbal=ledger
        )
        return STMTTRNRS(trnuid=trnrq.trnuid, status=_status(), stmtrs=bank_statement)

    def _investment_statement(self, trnrq, persona: Persona, posted: BankTimes) -> INVSTMTTRNRS:
        statement_request = trnrq.invstmtrq
        account = persona.account(statement_request.invacctfrom.acctid)
        if account is None or account.kind != "INVESTMENT":
            return INVSTMTTRNRS(trnuid=trnrq.trnuid, status=_status(10500, "Invalid account"))
        today = self.today()
        start, end = self._window(statement_request.inctran)
        lines = [self._investment_line(trade, posted) for trade in persona.trades(start, end, today)]
        as_of = dt.datetime.combine(today, dt.time(23, 59), tzinfo=BANK_TZ).astimezone(utils.UTC)
        window_start = dt.datetime.combine(start, dt.time(), tzinfo=BANK_TZ).astimezone(utils.UTC)
        holdings = persona.holdings(today)
        position = INVPOS(
            secid=self._fund_id(),
            heldinacct="CASH",
            postype="LONG",
            units=holdings.units,
            unitprice=holdings.unit_price,
            mktval=holdings.market_value,
            dtpriceasof=as_of,
        )
        statement = INVSTMTRS(
            dtasof=as_of,
            curdef="USD",
            invacctfrom=self._invacctfrom(account),
            invtranlist=INVTRANLIST(*lines, dtstart=window_start, dtend=as_of),
            invposlist=INVPOSLIST(POSMF(invpos=position)),
            invbal=INVBAL(availcash=holdings.cash, marginbalance=Decimal("0"), shortbalance=Decimal("0")),
        )
        return INVSTMTTRNRS(trnuid=trnrq.trnuid, status=_status(), invstmtrs=statement)

    def _investment_line(self, trade: DemoTrade, posted: BankTimes) -> INVBANKTRAN | BUYMF | INCOME:
        traded_at = trade.traded_at.astimezone(utils.UTC)
        if trade.kind == "CONTRIBUTION":
            posted[trade.fitid] = {"DTPOSTED": _bank_time(trade.traded_at)}
            cash_in = STMTTRN(
                trntype="CREDIT", dtposted=traded_at, trnamt=trade.amount, fitid=trade.fitid, name=trade.memo
            )
            return INVBANKTRAN(stmttrn=cash_in, subacctfund="CASH")
        posted[trade.fitid] = {"DTTRADE": _bank_time(trade.traded_at), "DTSETTLE": _bank_time(trade.settled_at)}
        invtran = INVTRAN(
            fitid=trade.fitid, dttrade=traded_at, dtsettle=trade.settled_at.astimezone(utils.UTC), memo=trade.memo
        )
        if trade.kind == "BUY":
            buy = INVBUY(
                invtran=invtran,
                secid=self._fund_id(),
                units=trade.units,
                unitprice=trade.unit_price,
                total=trade.amount,
                subacctsec="CASH",
                subacctfund="CASH",
            )
            return BUYMF(invbuy=buy, buytype="BUY")
        return INCOME(
            invtran=invtran,
            secid=self._fund_id(),
            incometype="DIV",
            total=trade.amount,
            subacctsec="CASH",
            subacctfund="CASH",
        )

    @staticmethod
    def _fund_id() -> SECID:
        return SECID(uniqueid=INDEX_FUND.cusip, uniqueidtype="CUSIP")

    def _fund_info(self) -> MFINFO:
        return MFINFO(
            secinfo=SECINFO(secid=self._fund_id(), secname=INDEX_FUND.name, ticker=INDEX_FUND.ticker),
            mftype="OPENEND",
        )

    @staticmethod
    def _serialize(document: OFX, posted: BankTimes, version: int) -> bytes:
        root = document.to_etree()
        for element in root.iter():
            if element.tag in ("STMTTRN", "INVTRAN"):
                for tag, text in posted.get(element.findtext("FITID") or "", {}).items():
                    dated = element.find(tag)
                    if dated is not None:
                        dated.text = text
        header = str(make_header(version=version)).encode()
        if version < 200:
            return header + utils.tostring_unclosed_elements(root)
        return header + ET.tostring(root, encoding="utf_8", method="html")


class _Handler(BaseHTTPRequestHandler):
    bank: DemoBank

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_REQUEST_BYTES:
            self.send_error(400, "An OFX request body is required")
            return
        try:
            body = self.bank.respond(self.rfile.read(length))
        except Exception:
            logger.exception("Demo bank could not answer an OFX request")
            self.send_error(400, "Malformed OFX request")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ofx")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("demo bank: " + format, *args)


class DemoBankServer:
    """The demo bank on a loopback port (0 picks a free one), served from a thread."""

    def __init__(self, port: int = 0, today: Callable[[], dt.date] | None = None) -> None:
        self.bank = DemoBank(today)
        handler = type("DemoBankHandler", (_Handler,), {"bank": self.bank})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/ofx"

    def start(self) -> DemoBankServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="demo-bank", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
