"""A SimpleFIN Bridge on loopback, speaking the real protocol (version 1), serving the demo bank's persona.

`setup_token()` mints a one-time setup token (the base64 of a claim URL). POST
`/simplefin/claim/<token>` exchanges it, once, for an access URL
`http://demo:<password>@127.0.0.1:<port>/simplefin`; GET `/simplefin/accounts` with that
login as HTTP Basic auth answers an Account Set, honouring start-date, end-date, pending,
balances-only and account. Run it with `python manage.py demo_simplefin` or in-process
through `DemoSimpleFinServer`.

The transactions are the demo bank's (persona.py), so both demo sources tell the same story,
with what a bridge adds: the card's purchases of today are pending (no posted date yet) and
post the next day under the same id, and a day without card purchases gets one small
purchase, so there is always something pending today.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from .persona import BANK_TZ, CARD, CENT, HISTORY_DAYS, DemoAccount, DemoTransaction, Persona, persona_for

logger = logging.getLogger(__name__)

ROOT = "/simplefin"
ACCESS_USER = "demo"
MAX_REQUEST_BYTES = 4096
MAX_WINDOW = dt.timedelta(days=90)  # as the real Bridge: a longer window is capped, with a note
ORG = {"domain": "demobank.example", "name": "Demo Bank", "url": "https://demobank.example"}
# The purchase a day without card purchases gets: descriptors, and its range in cents.
SMALL_PURCHASE_NAMES = ("SQ *CORNER DELI", "TST* SLICE HOUSE", "7-ELEVEN 33417", "WALGREENS #4410")
SMALL_PURCHASE_CENTS = (450, 1800)


def _timestamp(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _posted(day: dt.date) -> int:
    """When a bank date is reported as posted: noon UTC, which is that same date in every US time zone."""
    return _timestamp(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC))


def _int_param(query: dict[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values:
        return None
    return int(values[0])  # ValueError: a 400 for the client


def demo_secret() -> bytes:
    """The demo bridge's signing key, derived from SECRET_KEY: the bridge and the web app share it."""
    return hashlib.sha256(b"demo-simplefin:" + settings.SECRET_KEY.encode()).digest()


def demo_setup_token(bridge_url: str, secret: bytes) -> str:
    """A one-time setup token for the demo bridge at `bridge_url`, as a real bridge hands them out."""
    nonce = secrets.token_urlsafe(12)
    signature = hmac.new(secret, f"claim:{nonce}".encode(), hashlib.sha256).hexdigest()[:32]
    return base64.b64encode(f"{bridge_url}/claim/{nonce}.{signature}".encode()).decode()


class DemoSimpleFinServer:
    """The demo SimpleFIN Bridge on a loopback port (0 picks a free one), served from a thread.

    `today` (None: the bank's current date) and `errors` (strings every Account Set carries)
    can be set while it runs. Access passwords are signed with `secret`, so a server started
    again with the same secret still accepts the access URLs it handed out.
    """

    def __init__(self, port: int = 0, login: str = "demo", secret: bytes | None = None) -> None:
        self.login = login
        self.today: dt.date | None = None
        self.errors: list[str] = []
        self._secret = secret or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._claimed: set[str] = set()
        self._issued: set[str] = set()
        self._revoked: set[str] = set()
        handler = type("DemoSimpleFinHandler", (_Handler,), {"bridge": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def url(self) -> str:
        """The bridge's root URL (no login)."""
        return self.origin + ROOT

    def start(self) -> DemoSimpleFinServer:
        # (A short poll interval: stop() returns at once, which tests that start a bridge each feel.)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="demo-simplefin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # Tokens and access ---------------------------------------------------------------------

    def setup_token(self) -> str:
        """A fresh setup token: the base64 of a claim URL that works once."""
        return demo_setup_token(self.url, self._secret)

    def claim(self, token: str) -> str | None:
        """The access URL for a setup token's claim; None when it was claimed before or never minted.

        Tokens are signed, not stored, so another process holding the secret (the demo web
        app) can mint them too.
        """
        nonce, _, signature = token.partition(".")
        if not nonce or not hmac.compare_digest(signature.encode(), self._signature(f"claim:{nonce}").encode()):
            return None
        with self._lock:
            if token in self._claimed:
                return None
            self._claimed.add(token)
            password = self._password()
            self._issued.add(password)
        return f"http://{ACCESS_USER}:{password}@127.0.0.1:{self.httpd.server_address[1]}{ROOT}"

    def revoke(self, access_url: str | None = None) -> None:
        """Make an access URL (every one handed out, by default) answer 403 from now on."""
        with self._lock:
            if access_url is None:
                self._revoked |= self._issued
            else:
                self._revoked.add(urlsplit(access_url).password or "")

    def _password(self) -> str:
        nonce = secrets.token_urlsafe(12)
        return f"{nonce}.{self._signature(nonce)}"

    def _signature(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def authorized(self, header: str | None) -> bool:
        """Whether an Authorization header carries a live access login."""
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            return False
        nonce, _, signature = password.partition(".")
        with self._lock:
            revoked = password in self._revoked
        expected = self._signature(nonce).encode()
        return user == ACCESS_USER and not revoked and hmac.compare_digest(signature.encode(), expected)

    # Data ----------------------------------------------------------------------------------

    def current_day(self) -> dt.date:
        return self.today or dt.datetime.now(BANK_TZ).date()

    def account_set(self, query: dict[str, list[str]]) -> dict[str, Any]:
        today = self.current_day()
        notes: list[str] = []
        start = _int_param(query, "start-date")
        end = _int_param(query, "end-date")
        if end is None:
            end = _posted(today + dt.timedelta(days=1))
        if start is None:
            start = _posted(today - dt.timedelta(days=1))
            notes.append("Provide a 'start-date' parameter to receive transactions prior to yesterday.")
        if end - start > MAX_WINDOW.total_seconds():
            start = end - int(MAX_WINDOW.total_seconds())
            notes.append("Requested date range exceeds limit of 90 days and was capped.")
        with_transactions = query.get("balances-only") != ["1"]
        with_pending = query.get("pending") == ["1"]
        wanted = set(query.get("account", ()))
        persona = persona_for(self.login)
        accounts = []
        for account in persona.accounts:
            account_id = self.account_id(account)
            if wanted and account_id not in wanted:
                continue
            accounts.append(self._account(persona, account, today, (start, end) if with_transactions else None))
            if with_transactions and not with_pending:
                accounts[-1]["transactions"] = [txn for txn in accounts[-1]["transactions"] if not txn["pending"]]
        result: dict[str, Any] = {"errors": list(self.errors), "accounts": accounts}
        if notes:
            result["x-api-message"] = notes
        return result

    def account_id(self, account: DemoAccount) -> str:
        return f"ACT-{uuid.uuid5(uuid.NAMESPACE_URL, f'demo-simplefin:{self.login}:{account.acctid}')}"

    def _account(
        self, persona: Persona, account: DemoAccount, today: dt.date, window: tuple[int, int] | None
    ) -> dict[str, Any]:
        history = self.transactions(persona, account, today - dt.timedelta(days=HISTORY_DAYS), today, today)
        total = account.opening_balance + sum((txn.amount for txn in history), Decimal("0"))
        pending = sum((txn.amount for txn in history if self._is_pending(account, txn, today)), Decimal("0"))
        result: dict[str, Any] = {
            "org": {**ORG, "sfin-url": self.url},
            "id": self.account_id(account),
            "name": account.name,
            "currency": "USD",
            "balance": str(total - pending),  # what has posted
            "balance-date": _timestamp(dt.datetime.combine(today, dt.time(23, 59), tzinfo=BANK_TZ)),
        }
        if pending:
            result["available-balance"] = str(total)
        if window is not None:
            start, end = window
            first = dt.datetime.fromtimestamp(start, dt.UTC).date()
            last = dt.datetime.fromtimestamp(end, dt.UTC).date()
            result["transactions"] = [
                self._transaction_json(account, txn, today)
                for txn in self.transactions(persona, account, first, last, today)
                if start <= _posted(txn.posted_at.date()) < end
            ]
        return result

    def transactions(
        self, persona: Persona, account: DemoAccount, first: dt.date, last: dt.date, today: dt.date
    ) -> list[DemoTransaction]:
        """The persona's transactions, plus the card's small purchase on days it has none."""
        found = persona.transactions(account, first, last, today)
        if account.acctid != CARD.acctid:
            return found
        days_with_purchases = {txn.posted_at.date() for txn in found if txn.amount < 0}
        day = max(first, today - dt.timedelta(days=HISTORY_DAYS))
        while day <= min(last, today):
            if day not in days_with_purchases:
                found.append(self._small_purchase(account, day))
            day += dt.timedelta(days=1)
        return sorted(found, key=lambda txn: (txn.posted_at, txn.fitid))

    def _small_purchase(self, account: DemoAccount, day: dt.date) -> DemoTransaction:
        rng = random.Random(f"{self.login}:simplefin-small:{day.isoformat()}")
        cents = rng.randint(*SMALL_PURCHASE_CENTS)
        return DemoTransaction(
            fitid=f"{day:%Y%m%d}{account.acctid[-4:]}900",  # the persona numbers a day's rows from 000
            posted_at=dt.datetime.combine(day, dt.time(12, 30), tzinfo=BANK_TZ),
            amount=-(Decimal(cents) / 100).quantize(CENT),
            name=rng.choice(SMALL_PURCHASE_NAMES),
        )

    @staticmethod
    def _is_pending(account: DemoAccount, txn: DemoTransaction, today: dt.date) -> bool:
        """Card purchases post the day after they are made."""
        return account.acctid == CARD.acctid and txn.amount < 0 and txn.posted_at.date() == today

    def _transaction_json(self, account: DemoAccount, txn: DemoTransaction, today: dt.date) -> dict[str, Any]:
        pending = self._is_pending(account, txn, today)
        return {
            "id": txn.fitid,
            "posted": 0 if pending else _posted(txn.posted_at.date()),
            "amount": str(txn.amount),
            "description": txn.name,
            "transacted_at": _timestamp(txn.posted_at),
            "pending": pending,
        }


class _Handler(BaseHTTPRequestHandler):
    bridge: DemoSimpleFinServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._send(413, "text/plain", b"Request too large")
            return
        self.rfile.read(length)
        path = urlsplit(self.path).path
        prefix = f"{ROOT}/claim/"
        if not path.startswith(prefix):
            self._send(404, "text/plain", b"Not found")
            return
        access_url = self.bridge.claim(path[len(prefix) :])
        if access_url is None:
            self._send(403, "text/plain", b"This token was already claimed or does not exist.")
            return
        self._send(200, "text/plain", access_url.encode())

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == f"{ROOT}/info":
            self._json({"versions": ["1.0"]})
        elif parts.path == f"{ROOT}/accounts":
            if not self.bridge.authorized(self.headers.get("Authorization")):
                self._send(403, "text/plain", b"Access denied: the credentials are wrong or were revoked.")
                return
            try:
                account_set = self.bridge.account_set(parse_qs(parts.query))
            except ValueError:
                self._send(400, "text/plain", b"start-date and end-date must be UNIX timestamps.")
                return
            self._json(account_set)
        else:
            self._send(404, "text/plain", b"Not found")

    def _json(self, data: dict[str, Any]) -> None:
        self._send(200, "application/json", json.dumps(data).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # The request line holds no secret (the login travels in a header), but keep it out of the console.
        logger.debug("demo SimpleFIN bridge: " + format, *args)
