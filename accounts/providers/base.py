"""The provider interface and the one record shape every source is parsed into."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from accounts.credentials import BankCredentials


class ProviderError(Exception):
    """A failure the user can read: the message says what went wrong and names no secret."""


class ProviderAuthError(ProviderError):
    """The institution refused the credentials. Retrying will not help; the user must act."""


class ProviderUnavailable(ProviderError):
    """The institution could not be reached or failed. Worth retrying later."""


class ProviderDataError(ProviderError):
    """The institution (or a file) sent something that is not a valid statement."""


@dataclass(frozen=True)
class ConnectionParams:
    """Where and how to reach an institution; nothing secret."""

    url: str
    org: str = ""
    fid: str = ""
    bank_id: str = ""
    ofx_version: int = 220
    app_id: str = ""  # some banks only answer the client ids they know (Quicken's, say)
    app_version: str = ""


@dataclass(frozen=True)
class AccountRef:
    external_id: str
    kind: str  # an Account.Kind value
    bank_id: str = ""
    external_type: str = ""  # the institution's own type, e.g. OFX ACCTTYPE CREDITLINE


@dataclass(frozen=True)
class DiscoveredAccount:
    ref: AccountRef
    name: str
    currency: str = "USD"


# What the transactions table can hold: 12 digits before the point, cents after it.
MAX_AMOUNT = Decimal("999999999999.99")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class StatementLine:
    """One transaction as the institution states it; invalid values are refused on creation."""

    external_id: str  # the institution's id (OFX FITID)
    posted_on: dt.date  # the calendar date in the institution's own offset
    amount: Decimal  # negative = money out
    description: str
    memo: str = ""
    mcc: str = ""  # ISO 18245 code when the source gives one
    pending: bool = False  # authorised, not yet posted; only some sources report these
    # What the source says the money is, as a path in the category tree (a broker's trades
    # are transfers between cash and holdings, not spending); the categorizer weighs it like an MCC.
    category: str = ""

    def __post_init__(self) -> None:
        where = f"transaction {self.external_id[:40]!r}"
        if not self.external_id or len(self.external_id) > 255:
            raise ProviderDataError("A transaction has no id, or one longer than 255 characters.")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ProviderDataError(f"The amount of {where} is not a number.")
        if abs(self.amount) > MAX_AMOUNT:
            raise ProviderDataError(f"The amount of {where} is too large.")
        if self.amount != self.amount.quantize(CENT):
            raise ProviderDataError(f"The amount of {where} has fractions of a cent.")
        if self.mcc and not (len(self.mcc) == 4 and self.mcc.isdigit()):
            raise ProviderDataError(f"The merchant category code of {where} is not four digits.")


class ContentKeys:
    """Stable external ids for sources that give none (QIF, most CSV exports).

    The key is made of the posted date, the amount, the descriptor with case and spacing
    normalised, and the occurrence of that same triple so far in the file: two identical
    coffees on one day stay two rows, and the same file (or an overlapping later export,
    which lists the day's rows in the same order) maps to the same keys, so a replay adds none.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[dt.date, Decimal, str], int] = defaultdict(int)

    def key(self, posted_on: dt.date, amount: Decimal, description: str) -> str:
        normalised = " ".join(description.casefold().split())
        triple = (posted_on, amount, normalised)
        self._seen[triple] += 1
        text = f"{posted_on.isoformat()}|{amount:.2f}|{normalised}|{self._seen[triple]}"
        return "k:" + hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Statement:
    account: AccountRef
    currency: str
    lines: tuple[StatementLine, ...]
    balance: Decimal | None = None
    balance_as_of: dt.datetime | None = None
    # False when the source listed the account without its transactions (a balance only): its
    # pending rows cannot be judged gone by their absence.
    complete: bool = True


@dataclass(frozen=True)
class ParsedPayload:
    """The statements a payload holds, and what the institution could not provide."""

    statements: list[Statement]
    problems: list[str] = field(default_factory=list)


class Provider(Protocol):
    def discover(self, params: ConnectionParams, credentials: BankCredentials) -> list[DiscoveredAccount]:
        """Log in and list the accounts; raises ProviderAuthError for bad credentials."""
        ...

    def fetch(
        self,
        params: ConnectionParams,
        credentials: BankCredentials,
        accounts: Sequence[AccountRef],
        start: dt.date,
        end: dt.date,
    ) -> bytes:
        """The raw statement payload for these accounts, exactly as received."""
        ...

    def parse(self, raw: bytes) -> ParsedPayload:
        """Statements from a raw payload; raises ProviderAuthError, or ProviderDataError if none is usable."""
        ...
