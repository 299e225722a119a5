"""The provider interface and the one record shape every source is parsed into."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class AccountRef:
    external_id: str
    kind: str  # an Account.Kind value
    bank_id: str = ""


@dataclass(frozen=True)
class DiscoveredAccount:
    ref: AccountRef
    name: str
    currency: str = "USD"


@dataclass(frozen=True)
class StatementLine:
    """One transaction as the institution states it."""

    external_id: str  # the institution's id (OFX FITID)
    posted_on: dt.date  # the calendar date in the institution's own offset
    amount: Decimal  # negative = money out
    description: str
    memo: str = ""
    mcc: str = ""  # ISO 18245 code when the source gives one
    currency: str = ""  # only when it differs from the statement's


@dataclass(frozen=True)
class Statement:
    account: AccountRef
    currency: str
    lines: tuple[StatementLine, ...]
    balance: Decimal | None = None
    balance_as_of: dt.datetime | None = None


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

    def parse(self, raw: bytes) -> list[Statement]:
        """Statements from a raw payload; raises ProviderAuthError or ProviderDataError."""
        ...
