"""SimpleFIN: read-only account data as JSON from a SimpleFIN Bridge (or a bank's own SimpleFIN server).

The user pastes a setup token, the base64 of a one-time claim URL. Claiming it returns the
Access URL, `https://user:password@host/path`, which is the whole secret: it is kept in
BankCredentials.access_url (encrypted at rest), its login travels as an HTTP Basic header,
and no message, log line or repr ever quotes it. Protocol: https://www.simplefin.org/protocol.html
(version 1 Account Sets; version 2's `errlist` and connection names are understood too).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.utils.html import strip_tags

from accounts.credentials import BankCredentials

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
from .http import UnsafeURL, http_get, http_post, url_basic_auth, url_resolve

logger = logging.getLogger(__name__)

EXTERNAL_TYPE = "SIMPLEFIN"
MAX_TOKEN_CHARS = 2048
MAX_EXTERNAL_ID = 64  # Account.external_id
MAX_NAME = 120  # Account.name
MAX_MESSAGE = 300
# The Bridge caps end-date - start-date at 90 days (and says so in a warning): longer windows are fetched in parts.
MAX_WINDOW_DAYS = 90
# Timestamps past the year 9999 cannot be dates.
MAX_TIMESTAMP = 253402300799
USER_AGENT = "mint (SimpleFIN client)"

CLAIM_REFUSED = (
    "This SimpleFIN setup token was already used or is not valid. Create a new one at your SimpleFIN Bridge."
)
PAYMENT_REQUIRED = "The SimpleFIN Bridge asks for payment: renew your subscription there, then refresh."
ACCESS_REVOKED = (
    "The SimpleFIN Bridge refused access: it was revoked or is no longer valid. Connect again with a new setup token."
)
ACCESS_DAMAGED = "This connection's SimpleFIN access is missing or damaged. Connect again with a new setup token."
SETUP_UNREADABLE = (
    "This is not a SimpleFIN setup token. Copy the whole token from your SimpleFIN Bridge and paste it again."
)

_NUMERIC = re.compile(r"[+-]?\d{1,20}(\.\d{1,20})?")
_ISO_CURRENCY = re.compile(r"[A-Za-z]{3}")
# Anything that looks like an address or a login: bridge messages are shown to users, never with a URL in them.
_URL_OR_LOGIN = re.compile(r"\b[a-z][a-z0-9+.-]*://\S*|\S+@\S+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NEEDS_LOGIN = re.compile(
    r"auth|log ?in|sign ?in|password|credential|re-?connect|re-?link|attention|verif|mfa|security question",
    re.IGNORECASE,
)
# Account name -> Account.Kind, first match wins; "checking" otherwise.
_KINDS = (
    ("investment", re.compile(r"brokerage|invest|401\(?k\)?|403\(?b\)?|\bira\b|\broth\b|retirement", re.IGNORECASE)),
    ("other", re.compile(r"mortgage|\bloan\b", re.IGNORECASE)),
    ("savings", re.compile(r"saving", re.IGNORECASE)),
    ("credit-card", re.compile(r"card|credit|\bvisa\b|mastercard|\bamex\b", re.IGNORECASE)),
)
_CREDIT_UNION = re.compile(r"credit union", re.IGNORECASE)


def _clean(text: object, limit: int = 255) -> str:
    """Text from the bridge as plain text: no markup, no control characters, spaces collapsed."""
    if not isinstance(text, str):
        return ""
    return " ".join(_CONTROL.sub(" ", strip_tags(text)).split())[:limit]


def _message(text: object) -> str:
    """A bridge message fit to show: plain text, with every URL and login removed."""
    if not isinstance(text, str):
        return ""
    plain = _URL_OR_LOGIN.sub("", _CONTROL.sub(" ", strip_tags(text)))
    return " ".join(plain.split())[:MAX_MESSAGE]


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:  # its text quotes the URL: never let it travel
        return None
    return parts


def _allowed_schemes() -> tuple[str, ...]:
    return ("https", "http") if settings.DEMO_MODE else ("https",)


# Claiming -----------------------------------------------------------------------------------


def _claim_url(setup_token: str) -> str:
    token = "".join(setup_token.split())
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise ProviderDataError(SETUP_UNREADABLE)
    token += "=" * (-len(token) % 4)  # some copies lose the padding
    decoded = None
    for altchars in (None, b"-_"):  # standard, then URL-safe base64
        try:
            decoded = base64.b64decode(token, altchars=altchars, validate=True).decode("ascii")
            break
        except (binascii.Error, ValueError):
            continue
    parts = _split(decoded) if decoded and decoded.isprintable() else None
    if decoded is None or parts is None or not parts.scheme:
        raise ProviderDataError(SETUP_UNREADABLE)
    if parts.scheme.lower() not in _allowed_schemes():
        raise UnsafeURL("This SimpleFIN setup token does not hold an https:// address, so it is not used.")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise ProviderDataError(SETUP_UNREADABLE)
    return decoded


def _access_parts(access_url: str) -> SplitResult | None:
    """The access URL's parts if it is one: an allowed scheme, a host and a login."""
    parts = _split(access_url) if access_url.isprintable() else None
    if parts is None or parts.scheme.lower() not in _allowed_schemes() or not parts.hostname:
        return None
    if not parts.username or not parts.password:
        return None
    return parts


def simplefin_claim(setup_token: str) -> str:
    """Claim a setup token (once: the bridge refuses a second claim) and return the access URL.

    The access URL is a secret: store it only in BankCredentials.access_url.
    """
    claim_url = _claim_url(setup_token)
    raw = http_post(
        claim_url,
        b"",
        {"Content-Length": "0", "User-Agent": USER_AGENT},
        status_errors={403: ProviderAuthError(CLAIM_REFUSED), 402: ProviderAuthError(PAYMENT_REQUIRED)},
    )
    try:
        access_url = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        access_url = ""
    if len(access_url) > MAX_TOKEN_CHARS or _access_parts(access_url) is None:
        raise ProviderDataError("The SimpleFIN Bridge did not answer the claim with an access URL. Try a new token.")
    # Checked now, for a message about the bridge; every fetch checks it again before connecting.
    try:
        url_resolve(url_basic_auth(access_url)[0])
    except UnsafeURL:
        raise UnsafeURL(
            "The SimpleFIN Bridge answered the claim with a private or local network address, so it is not used."
        ) from None
    return access_url


def simplefin_params(access_url: str) -> ConnectionParams:
    """ConnectionParams for a connection through this access URL: the bridge's origin, no login (display only)."""
    parts = _access_parts(access_url)
    if parts is None:
        raise ProviderAuthError(ACCESS_DAMAGED)
    origin = urlunsplit((parts.scheme.lower(), parts.netloc.rpartition("@")[2], "", "", ""))
    return ConnectionParams(url=origin)


# Fetching -----------------------------------------------------------------------------------


def _accounts_get(credentials: BankCredentials, query: dict[str, str]) -> bytes:
    parts = _access_parts(credentials.access_url)
    if parts is None:
        raise ProviderAuthError(ACCESS_DAMAGED)
    bare, auth = url_basic_auth(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))
    url = f"{bare.rstrip('/')}/accounts?{urlencode(query)}"
    return http_get(
        url,
        {**auth, "Accept": "application/json", "User-Agent": USER_AGENT},
        status_errors={
            401: ProviderAuthError(ACCESS_REVOKED),
            402: ProviderAuthError(PAYMENT_REQUIRED),
            403: ProviderAuthError(ACCESS_REVOKED),
        },
    )


def _timestamp(day: dt.date) -> str:
    return str(int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()))


def _merge(raws: list[bytes]) -> bytes:
    """One Account Set from several windows' (newest first).

    Account details and balances come from the newest window; transactions run oldest first,
    each once, in its newest version (a pending one may have posted since).
    """
    sets = [_account_set_load(raw) for raw in raws]
    merged = dict(sets[0])
    accounts: dict[str, dict[str, Any]] = {}
    transactions: dict[str, dict[Any, Any]] = {}
    malformed: list[Any] = []  # kept as they are: parse says what is wrong with them
    errors: list[Any] = []
    errlist: list[Any] = []
    for account_set in sets:
        errors += [error for error in account_set.get("errors") or () if error not in errors]
        errlist += [error for error in account_set.get("errlist") or () if error not in errlist]
        for account in account_set["accounts"]:
            if isinstance(account, dict) and isinstance(account.get("id"), str):
                accounts.setdefault(account["id"], account)
            else:
                malformed.append(account)
    for account_set in reversed(sets):
        for account in account_set["accounts"]:
            if not isinstance(account, dict) or not isinstance(account.get("id"), str):
                continue
            by_id = transactions.setdefault(account["id"], {})
            txns = account.get("transactions") or ()
            for index, txn in enumerate(txns if isinstance(txns, list) else ()):
                key = txn.get("id") if isinstance(txn, dict) and isinstance(txn.get("id"), str) else (id(txns), index)
                by_id[key] = txn
    merged["accounts"] = [
        {**account, "transactions": list(transactions[account_id].values())} for account_id, account in accounts.items()
    ] + malformed
    merged["errors"] = errors
    if errlist:
        merged["errlist"] = errlist
    return json.dumps(merged).encode()


# Parsing ------------------------------------------------------------------------------------


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number")


def _account_set_load(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ProviderDataError("The SimpleFIN Bridge sent something that is not JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
        raise ProviderDataError("The SimpleFIN Bridge's answer is not an account set: it has no list of accounts.")
    return data


def _bridge_messages(account_set: dict[str, Any]) -> tuple[list[str], bool]:
    """The bridge's messages for the user, and whether one says the login needs the user's attention.

    Version 2's `errlist` has codes (`gen.api` is for developers: logged, not shown); version 1 has
    only `errors` strings, judged by their words. A server sending both means the same errors twice.
    """
    messages: list[str] = []
    needs_login = False
    errlist = account_set.get("errlist")
    if isinstance(errlist, list) and errlist:
        for error in errlist:
            if not isinstance(error, dict):
                continue
            code = str(error.get("code") or "")
            text = _message(error.get("msg") or error.get("message"))
            if code.startswith("gen.api"):
                logger.info("SimpleFIN bridge note for developers: %s", text)
                continue
            needs_login |= code.startswith(("gen.auth", "con.auth"))
            if text and text not in messages:
                messages.append(text)
        return messages, needs_login
    errors = account_set.get("errors")
    for error in errors if isinstance(errors, list) else ():
        text = _message(error)
        if text and text not in messages:
            messages.append(text)
            needs_login |= bool(_NEEDS_LOGIN.search(text))
    return messages, needs_login


def _amount(value: object, what: str) -> Decimal:
    """A numeric string, exactly: no floats, exponents, NaN or infinities."""
    if not isinstance(value, str) or not _NUMERIC.fullmatch(value.strip()):
        raise ProviderDataError(f"The amount of {what} is not a number.")
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise ProviderDataError(f"The amount of {what} is not a number.") from None


def _moment(value: object) -> dt.datetime | None:
    """A UNIX timestamp as an aware UTC datetime; None for 0 or nothing (pending transactions)."""
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TIMESTAMP:
        raise ProviderDataError(f"A SimpleFIN timestamp is not a valid date ({str(value)[:20]!r}).")
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _external_id(account_id: str) -> str:
    """The account's id, or a stable digest of it when it is too long to store."""
    if len(account_id) <= MAX_EXTERNAL_ID:
        return account_id
    return "sha256:" + hashlib.sha256(account_id.encode()).hexdigest()[: MAX_EXTERNAL_ID - len("sha256:")]


def _kind(name: str) -> str:
    name = _CREDIT_UNION.sub("", name)
    return next((kind for kind, pattern in _KINDS if pattern.search(name)), "checking")


def _org_name(account: dict[str, Any], connections: dict[str, str]) -> str:
    org = account.get("org")
    if isinstance(org, dict):  # version 1
        return _clean(org.get("name") or org.get("domain"), MAX_NAME)
    return _clean(account.get("conn_name") or connections.get(str(account.get("conn_id"))), MAX_NAME)


class _Account:
    """One account of an Account Set, checked."""

    def __init__(self, data: object, connections: dict[str, str]) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"].strip():
            raise ProviderDataError("The SimpleFIN Bridge sent an account without an id.")
        self.data = data
        self.id: str = data["id"]
        account_name = _clean(data.get("name"), MAX_NAME)
        org_name = _org_name(data, connections)
        if org_name and not account_name.casefold().startswith(org_name.casefold()):
            account_name = f"{org_name} {account_name}"
        self.name = account_name.strip()[:MAX_NAME].strip() or f"Account {self.id[-4:]}"
        kind = _kind(_clean(data.get("name")))  # the account's own name: "Chase Bank" says nothing
        self.ref = AccountRef(external_id=_external_id(self.id), kind=kind, external_type=EXTERNAL_TYPE)
        currency = data.get("currency")
        # A custom currency (points, miles) is a URL: not money, and Account.currency holds ISO codes only.
        self.custom_currency = isinstance(currency, str) and "://" in currency
        self.currency = currency.upper() if isinstance(currency, str) and _ISO_CURRENCY.fullmatch(currency) else ""

    def statement(self) -> Statement:
        if not self.currency:
            raise ProviderDataError(f"{self.name} has no valid currency.")
        balance = _amount(self.data.get("balance"), f"the balance of {self.name}")
        if abs(balance) > MAX_AMOUNT:
            raise ProviderDataError(f"The balance of {self.name} is too large.")
        as_of = _moment(self.data.get("balance-date"))
        transactions = self.data.get("transactions")
        if transactions is None:
            transactions = []  # balances only
        if not isinstance(transactions, list):
            raise ProviderDataError(f"The transactions of {self.name} are not a list.")
        return Statement(
            account=self.ref,
            currency=self.currency,
            lines=tuple(_line(txn, as_of) for txn in transactions),
            balance=balance.quantize(CENT),
            balance_as_of=as_of,
            complete="transactions" in self.data,
        )


def _line(txn: object, as_of: dt.datetime | None) -> StatementLine:
    if not isinstance(txn, dict):
        raise ProviderDataError("A SimpleFIN transaction is not an object.")
    txn_id = txn.get("id")
    if isinstance(txn_id, int) and not isinstance(txn_id, bool):
        txn_id = str(txn_id)
    if not isinstance(txn_id, str) or not txn_id:
        raise ProviderDataError("A SimpleFIN transaction has no id.")
    posted = _moment(txn.get("posted"))
    # `posted` is 0 while a transaction is pending: it is dated by when it happened, or failing that
    # by when the bridge last looked.
    when = posted or _moment(txn.get("transacted_at")) or as_of
    if when is None:
        raise ProviderDataError(f"The SimpleFIN transaction {txn_id[:40]!r} has no date.")
    return StatementLine(
        external_id=txn_id,
        posted_on=when.date(),
        amount=_amount(txn.get("amount"), f"transaction {txn_id[:40]!r}"),
        description=_clean(txn.get("description")) or _clean(txn.get("payee")),
        memo=_clean(txn.get("memo")),
        pending=txn.get("pending") is True or posted is None,
    )


def _accounts(account_set: dict[str, Any]) -> tuple[list[_Account], list[str]]:
    """The usable accounts and the messages for the user; raises when the login needs attention and none came."""
    messages, needs_login = _bridge_messages(account_set)
    raw_connections = account_set.get("connections")
    connections = {
        str(conn.get("conn_id")): _clean(conn.get("name") or conn.get("org_name"), MAX_NAME)
        for conn in (raw_connections if isinstance(raw_connections, list) else ())
        if isinstance(conn, dict)
    }
    accounts = [_Account(data, connections) for data in account_set["accounts"]]
    if not accounts and messages:
        if needs_login:
            raise ProviderAuthError(f"SimpleFIN Bridge: {' '.join(messages)}"[:MAX_MESSAGE])
        raise ProviderDataError(f"SimpleFIN Bridge: {' '.join(messages)}"[:MAX_MESSAGE])
    money = [account for account in accounts if not account.custom_currency]
    if len(money) < len(accounts):
        logger.info("SimpleFIN: %d account(s) in a custom currency skipped", len(accounts) - len(money))
    return money, messages


def statements_parse(raw: bytes) -> ParsedPayload:
    """One statement per account; an account whose data is unusable, and each bridge error, is a problem."""
    accounts, messages = _accounts(_account_set_load(raw))
    statements: list[Statement] = []
    problems = [f"The SimpleFIN Bridge reported: {message}" for message in messages]
    for account in accounts:
        try:
            statements.append(account.statement())
        except ProviderDataError as exc:
            problems.append(f"{account.name}: {exc}")
    if not statements:
        raise ProviderDataError(problems[0] if problems else "The SimpleFIN Bridge sent no accounts.")
    return ParsedPayload(statements, problems)


class SimpleFin:
    """The Provider for SimpleFIN; the credentials are BankCredentials(access_url=...), params.url is display only."""

    def discover(self, params: ConnectionParams, credentials: BankCredentials) -> list[DiscoveredAccount]:
        accounts, _ = _accounts(_account_set_load(_accounts_get(credentials, {"balances-only": "1"})))
        found = [
            DiscoveredAccount(ref=account.ref, name=account.name, currency=account.currency)
            for account in accounts
            if account.currency
        ]
        if not found:
            raise ProviderDataError(
                "The SimpleFIN Bridge accepted the access but lists no accounts. "
                "Add your bank there, then connect again."
            )
        return found

    def fetch(
        self,
        params: ConnectionParams,
        credentials: BankCredentials,
        accounts: Sequence[AccountRef],
        start: dt.date,
        end: dt.date,
    ) -> bytes:
        """Every account's transactions posted from `start` to `end` (inclusive, UTC dates), pending ones too.

        One request answers for all of the bridge's accounts (its quota counts requests), so
        `accounts` does not narrow it; a window longer than the bridge serves at once is
        fetched in parts, newest first, and merged into one Account Set.
        """
        if end < start:
            raise ProviderError("The statement window ends before it starts.")
        raws: list[bytes] = []
        window_end = end + dt.timedelta(days=1)  # end-date is exclusive
        while window_end > start:
            window_start = max(start, window_end - dt.timedelta(days=MAX_WINDOW_DAYS))
            query = {"start-date": _timestamp(window_start), "end-date": _timestamp(window_end), "pending": "1"}
            raws.append(_accounts_get(credentials, query))
            window_end = window_start
        return raws[0] if len(raws) == 1 else _merge(raws)

    def parse(self, raw: bytes) -> ParsedPayload:
        return statements_parse(raw)
