"""A deterministic customer history for the demo bank.

Every day's transactions are derived from (login, date) alone, so any statement window
returns the same transactions with the same FITIDs, and each new day brings new ones.
Descriptors are spelled the way card statements print them.

The brokerage account is separate: each month a contribution arrives on the 2nd and buys
the index fund on the 3rd, and the fund pays a dividend each quarter. Its holdings are
counted from the day it opened, so a trade's amounts never depend on "today".
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache

BANK_TZ = dt.timezone(dt.timedelta(hours=-5), "EST")
HISTORY_DAYS = 400
CENT = Decimal("0.01")
PASSWORD = "demo"  # noqa: S105  (the demo bank accepts any login with this public password)


@dataclass(frozen=True)
class DemoAccount:
    acctid: str
    kind: str  # OFX: CHECKING, CREDITCARD or INVESTMENT
    name: str
    bankid: str = "123456780"  # the BROKERID for INVESTMENT
    opening_balance: Decimal = Decimal("0")


@dataclass(frozen=True)
class DemoTransaction:
    fitid: str
    posted_at: dt.datetime  # in BANK_TZ
    amount: Decimal
    name: str
    sic: int | None = None
    memo: str = ""

    @property
    def trntype(self) -> str:
        return "CREDIT" if self.amount > 0 else "DEBIT"


@dataclass(frozen=True)
class DemoSecurity:
    cusip: str
    ticker: str
    name: str


@dataclass(frozen=True)
class DemoTrade:
    """One brokerage transaction; `kind` is CONTRIBUTION (cash in), BUY or DIVIDEND (of INDEX_FUND)."""

    fitid: str
    kind: str
    traded_at: dt.datetime  # in BANK_TZ
    amount: Decimal  # the cash effect: negative for a purchase
    memo: str
    units: Decimal = Decimal("0")
    unit_price: Decimal = Decimal("0")

    @property
    def settled_at(self) -> dt.datetime:
        return self.traded_at + dt.timedelta(days=1)


@dataclass(frozen=True)
class DemoHoldings:
    cash: Decimal
    units: Decimal
    unit_price: Decimal

    @property
    def market_value(self) -> Decimal:
        return (self.units * self.unit_price).quantize(CENT)


CHECKING = DemoAccount("000123456789", "CHECKING", "Everyday Checking", opening_balance=Decimal("4200.00"))
CARD = DemoAccount("4000001234567899", "CREDITCARD", "Rewards Visa")
BROKERAGE = DemoAccount(
    "570000042", "INVESTMENT", "Brokerage", bankid="demo-broker.example", opening_balance=Decimal("250.00")
)
ACCOUNTS = (CHECKING, CARD)  # the accounts with day-by-day transactions, which the SimpleFIN bridge serves too
INVESTMENT_ACCOUNTS = (BROKERAGE,)  # served by OFX investment statements only
INDEX_FUND = DemoSecurity("922908728", "VTSAX", "Vanguard Total Stock Market Index Fund Admiral Shares")
BROKERAGE_OPENED = dt.date(2024, 1, 1)
OPENING_UNITS = Decimal("40.000")
UNITS = Decimal("0.001")
DIVIDEND_MONTHS = (3, 6, 9, 12)

# (descriptor choices, low, high, SIC or None)
COFFEE = (("SQ *BLUE BOTTLE COFFE", "STARBUCKS STORE 10482", "PEETS COFFEE #0214"), "3.75", "7.25", None)
GROCERIES = (("WHOLE FOODS MKT #10234", "TRADER JOE'S #552 QPS", "SAFEWAY #1234"), "28.00", "165.00", None)
DINING = (
    ("CHIPOTLE 1234", "TST* FLOUR + WATER", "SWEETGREEN SOMA", "DOORDASH*THAI BASIL", "TST* NOPA"),
    "14.00",
    "86.00",
    5812,
)
RIDESHARE = (("UBER *TRIP HELP.UBER.COM", "LYFT *RIDE SUN 4PM"), "8.50", "38.00", None)
GAS = (("SHELL OIL 57444212", "CHEVRON 0203456"), "34.00", "68.00", None)
SHOPPING = (("AMZN Mktp US*2K4L09", "AMZN Mktp US*RT4Y71", "TARGET 00012345"), "11.00", "140.00", None)


def _money(rng: random.Random, low: str, high: str) -> Decimal:
    cents = rng.randint(int(Decimal(low) * 100), int(Decimal(high) * 100))
    return (Decimal(cents) / 100).quantize(CENT)


class Persona:
    def __init__(self, login: str) -> None:
        self.login = login
        base = random.Random(f"demo-persona:{login}")
        self.paycheck = Decimal(base.randrange(2600, 3400, 25)).quantize(CENT)
        self.rent = Decimal(base.randrange(1700, 2300, 25)).quantize(CENT)
        # (Its own generator: drawing from `base` would change what the other accounts see.)
        self.contribution = Decimal(random.Random(f"demo-brokerage:{login}").randrange(300, 800, 50)).quantize(CENT)

    @property
    def accounts(self) -> tuple[DemoAccount, ...]:
        return ACCOUNTS

    @property
    def investment_accounts(self) -> tuple[DemoAccount, ...]:
        return INVESTMENT_ACCOUNTS

    def account(self, acctid: str) -> DemoAccount | None:
        return next((account for account in ACCOUNTS + INVESTMENT_ACCOUNTS if account.acctid == acctid), None)

    def trades(self, start: dt.date, end: dt.date, today: dt.date) -> list[DemoTrade]:
        """The brokerage's transactions in the window, as `transactions` windows the others."""
        first = max(start, today - dt.timedelta(days=HISTORY_DAYS), BROKERAGE_OPENED)
        last = min(end, today)
        return [trade for trade in self._trades_until(last) if trade.traded_at.date() >= first]

    def holdings(self, today: dt.date) -> DemoHoldings:
        trades = self._trades_until(today)
        cash = BROKERAGE.opening_balance + sum((trade.amount for trade in trades), Decimal("0"))
        units = OPENING_UNITS + sum((trade.units for trade in trades), Decimal("0"))
        return DemoHoldings(cash, units, self._fund_price(today.replace(day=1)))

    def _trades_until(self, last: dt.date) -> list[DemoTrade]:
        trades: list[DemoTrade] = []
        month = BROKERAGE_OPENED
        while month <= last:
            trades.extend(trade for trade in self._month_trades(month) if trade.traded_at.date() <= last)
            month = (month + dt.timedelta(days=32)).replace(day=1)
        return trades

    @lru_cache(maxsize=256)  # noqa: B019  (a handful of personas, each kept for the process)
    def _month_trades(self, month: dt.date) -> tuple[DemoTrade, ...]:
        units, price = self._purchase(month)
        trades = [
            self._trade(month.replace(day=2), 9, "CONTRIBUTION", self.contribution, "ACH CONTRIBUTION"),
            self._trade(
                month.replace(day=3), 10, "BUY", -(units * price).quantize(CENT), "AUTOMATIC INVESTMENT", units, price
            ),
        ]
        if month.month in DIVIDEND_MONTHS:
            held = OPENING_UNITS
            bought = BROKERAGE_OPENED
            while bought <= month:  # every purchase up to this month's, on the 3rd
                held += self._purchase(bought)[0]
                bought = (bought + dt.timedelta(days=32)).replace(day=1)
            per_unit = Decimal(random.Random(f"{self.login}:dividend:{month.isoformat()}").randint(38, 46)) / 100
            # Paid late in the evening: in UTC it is already the next day.
            trades.append(
                self._trade(
                    month.replace(day=24), 22, "DIVIDEND", (held * per_unit).quantize(CENT), "DIVIDEND RECEIVED"
                )
            )
        return tuple(trades)

    def _purchase(self, month: dt.date) -> tuple[Decimal, Decimal]:
        """(units, unit price) of the month's purchase: the whole contribution, in whole thousandths."""
        price = self._fund_price(month)
        return (self.contribution / price).quantize(UNITS, rounding=ROUND_DOWN), price

    @staticmethod
    def _trade(
        day: dt.date,
        hour: int,
        kind: str,
        amount: Decimal,
        memo: str,
        units: Decimal = Decimal("0"),
        unit_price: Decimal = Decimal("0"),
    ) -> DemoTrade:
        return DemoTrade(
            fitid=f"{day:%Y%m%d}{BROKERAGE.acctid[-4:]}000",
            kind=kind,
            traded_at=dt.datetime.combine(day, dt.time(hour, 30), tzinfo=BANK_TZ),
            amount=amount,
            memo=memo,
            units=units,
            unit_price=unit_price,
        )

    def _fund_price(self, month: dt.date) -> Decimal:
        """The fund's price through a month: a steady climb with some noise."""
        months = (month.year - BROKERAGE_OPENED.year) * 12 + month.month - BROKERAGE_OPENED.month
        cents = 11000 + 85 * months + random.Random(f"demo-fund:{month.isoformat()}").randint(-400, 400)
        return (Decimal(cents) / 100).quantize(CENT)

    def transactions(self, account: DemoAccount, start: dt.date, end: dt.date, today: dt.date) -> list[DemoTransaction]:
        first = max(start, today - dt.timedelta(days=HISTORY_DAYS))
        last = min(end, today)
        result: list[DemoTransaction] = []
        day = first
        while day <= last:
            result.extend(self._day(day)[account.acctid])
            day += dt.timedelta(days=1)
        return result

    def balance(self, account: DemoAccount, today: dt.date) -> Decimal:
        history = self.transactions(account, today - dt.timedelta(days=HISTORY_DAYS), today, today)
        return account.opening_balance + sum((txn.amount for txn in history), Decimal("0"))

    @lru_cache(maxsize=2048)  # noqa: B019  (a handful of personas, each kept for the process)
    def _day(self, day: dt.date) -> dict[str, list[DemoTransaction]]:
        rng = random.Random(f"{self.login}:{day.isoformat()}")
        card = self._card_purchases(rng, day)  # first use of rng: the autopay replays it
        checking: list[tuple[Decimal, str, int | None, int]] = []
        if day.day in (1, 15):
            checking.append((self.paycheck, "ACME CORP PAYROLL PPD", None, 6))
        if day.day == 1:
            checking.append((-self.rent, "OAKWOOD APTS RENT WEB PMT", None, 9))
        if day.day == 5:
            checking.append((-_money(rng, "62.00", "148.00"), "PG&E WEB ONLINE", None, 10))
        if day.day == 12:
            checking.append((Decimal("-79.99"), "COMCAST CABLE COMM", None, 8))
        if day.day == 18:
            checking.append((Decimal("-65.00"), "VERIZON WIRELESS PAYMENTS", None, 8))
        if day.day == 22:
            owed = -sum((amount for amount, *_ in self._month_card_purchases(day)), Decimal("0"))
            if owed > 0:
                checking.append((-owed, "CHASE CREDIT CRD AUTOPAY", None, 7))
                card.append((owed, "PAYMENT THANK YOU - WEB", None, 7))
        if (day + dt.timedelta(days=1)).day == 1:
            checking.append((_money(rng, "0.40", "2.60"), "INTEREST PAYMENT", None, 23))
        return {
            CHECKING.acctid: self._stamp(CHECKING, day, checking),
            CARD.acctid: self._stamp(CARD, day, card),
        }

    def _month_card_purchases(self, day: dt.date) -> list[tuple[Decimal, str, int | None, int]]:
        """Last calendar month's card purchases: what the autopay on the 22nd settles."""
        month_end = day.replace(day=1) - dt.timedelta(days=1)
        purchases = []
        current = month_end.replace(day=1)
        while current <= month_end:
            purchases.extend(self._card_purchases(random.Random(f"{self.login}:{current.isoformat()}"), current))
            current += dt.timedelta(days=1)
        return purchases

    def _card_purchases(self, rng: random.Random, day: dt.date) -> list[tuple[Decimal, str, int | None, int]]:
        purchases: list[tuple[Decimal, str, int | None, int]] = []
        weekday = day.weekday() < 5

        def maybe(chance: float, kind: tuple, hour: int) -> None:
            if rng.random() < chance:
                names, low, high, sic = kind
                purchases.append((-_money(rng, low, high), rng.choice(names), sic, hour))

        maybe(0.65 if weekday else 0.3, COFFEE, 8)
        maybe(0.3, GROCERIES, 18)
        maybe(0.35, DINING, 20)
        maybe(0.25, RIDESHARE, 22)  # late evening: posted-date handling sees offsets
        maybe(0.14, GAS, 17)
        maybe(0.16, SHOPPING, 13)
        fixed = {
            3: (Decimal("-15.49"), "NETFLIX.COM"),
            7: (Decimal("-24.99"), "PLANET FITNESS"),
            9: (Decimal("-11.99"), "SPOTIFY USA"),
            14: (Decimal("-14.99"), "AMAZON PRIME*MB1RT3"),
            20: (Decimal("-2.99"), "APPLE.COM/BILL"),
            26: (-_money(rng, "9.00", "42.00"), "CVS/PHARMACY #01234"),
        }
        if day.day in fixed:
            amount, name = fixed[day.day]
            purchases.append((amount, name, None, 4))
        if day.day == 17 and rng.random() < 0.6:  # a return now and then
            purchases.append((_money(rng, "12.00", "60.00"), "AMZN Mktp US*RT4Y71", None, 15))
        return purchases

    @staticmethod
    def _stamp(
        account: DemoAccount, day: dt.date, entries: list[tuple[Decimal, str, int | None, int]]
    ) -> list[DemoTransaction]:
        return [
            DemoTransaction(
                fitid=f"{day:%Y%m%d}{account.acctid[-4:]}{index:03d}",
                posted_at=dt.datetime.combine(day, dt.time(hour, 30), tzinfo=BANK_TZ),
                amount=amount,
                name=name,
                sic=sic,
            )
            for index, (amount, name, sic, hour) in enumerate(entries)
        ]


@lru_cache(maxsize=64)
def persona_for(login: str) -> Persona:
    return Persona(login)
