"""CSV statement exports: guessing how the columns read, then reading every row with a confirmed mapping.

Banks agree on nothing here: the date order, the decimal mark, the sign of a purchase, a summary
block above the table, a trailing comma on every row. Everything is read as text and Decimal,
and an error names the line (1-based, as a spreadsheet shows it) and at most 40 characters of
the value. Column indexes in a mapping are 0-based; messages count columns from 1, like people.

The date and amount readers here are shared with the QIF reader.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

from .base import CENT, MAX_AMOUNT, ContentKeys, ProviderDataError, StatementLine

MAX_ROWS = 100_000
NO_TRANSACTIONS = "The file holds no transactions."
TOO_MANY_ROWS = f"The file has more than {MAX_ROWS:,} transactions; import it in smaller parts (a year at a time, say)."
MAX_COLUMN = 500  # a mapping's column index must be below this; no bank export is that wide
DESCRIPTION_LENGTH = 255
PREVIEW_ROWS = 10
DATE_STYLES = ("iso", "us", "day-first")
# When two delimiters split the file equally well, the one least likely to appear inside a
# description or an amount wins: tab, then semicolon, pipe, comma.
DELIMITERS = ("\t", ";", "|", ",")
# How far down to look for the table: a summary block above it is a dozen rows at most.
TABLE_SEARCH_ROWS = 60
TABLE_WINDOW = 20
MIN_YEAR, MAX_YEAR = 1900, 2199

# Header names, normalised (see _header_key), best first. Mostly English, plus the most common
# German, Dutch, French and Spanish ones.
DATE_NAMES = (
    "posting date", "post date", "posted date", "date", "transaction date", "trans date", "txn date",
    "booking date", "value date", "date posted", "buchungstag", "buchungsdatum", "datum", "date operation",
    "fecha", "valuta",
)  # fmt: skip
DESCRIPTION_NAMES = (
    "description", "payee", "merchant", "name", "transaction description", "narrative", "details",
    "payee name", "merchant name", "beschreibung", "auftraggeber empfanger", "empfanger", "naam omschrijving",
    "omschrijving", "libelle", "concepto", "memo",
)  # fmt: skip
AMOUNT_NAMES = (
    "amount", "transaction amount", "amt", "value", "betrag", "bedrag", "montant", "importe", "umsatz",
)  # fmt: skip
DEBIT_NAMES = (
    "debit", "debits", "debit amount", "amount debit", "withdrawal", "withdrawals", "withdrawal amount",
    "money out", "paid out", "outflow", "soll", "af",
)  # fmt: skip
CREDIT_NAMES = (
    "credit", "credits", "credit amount", "amount credit", "deposit", "deposits", "deposit amount",
    "money in", "paid in", "inflow", "haben", "bij",
)  # fmt: skip
MEMO_NAMES = ("memo", "notes", "note", "extended details", "verwendungszweck", "mededelingen", "reference text")
ID_NAMES = (
    "transaction id", "transaction number", "transaction reference", "reference number", "reference",
    "reference no", "ref", "id", "fitid",
)  # fmt: skip
# Rows some banks put inside the table that are not transactions (Bank of America's first row).
_BALANCE_ROW = re.compile(r"\s*(beginning|opening|ending|closing|starting)\s+balance\b", re.IGNORECASE)
_CARD_PAYMENT = re.compile(r"\b(payment|thank you|autopay)\b", re.IGNORECASE)
_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}


def quote(value: str) -> str:
    """A value for an error message: never more than 40 characters of what the file held."""
    value = value.strip()
    return repr(value if len(value) <= 40 else value[:40] + "…")


def text_clean(value: str, *, line: int, what: str = "description") -> str:
    """Stripped, whitespace collapsed, at most 255 characters (a longer payee is cut, not refused)."""
    if "\x00" in value:
        raise ProviderDataError(f"Line {line}: the {what} contains NUL bytes.")
    return " ".join(value.split())[:DESCRIPTION_LENGTH]


# Dates ---------------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"(\d{4})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{1,2})")
# `12/25/2026`, `25.12.2026`, `1/ 5/26`, Quicken's `12/25'26` and ` 5/ 1'2026`.
_NUMERIC_DATE = re.compile(r"(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*([-/.'])\s*(\d{4}|\d{2})")
# Some exports add a time: `2026-11-03 14:22:01`, `11/03/2026 10:15 AM`, `2026-11-03T00:00:00Z`.
_PLAIN_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")  # most dates: read alike, sooner
_TIME = re.compile(r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm])?\s*(?:Z|[+-]\d{2}:?\d{2})?)?\s*")


class DateParts(NamedTuple):
    """A date as written, before its day/month order is known."""

    first: int  # the month of an ISO date
    second: int
    year: int
    iso: bool
    dotted: bool  # 03.11.2026: only day-first countries write dates with dots


@lru_cache(maxsize=4096)
def date_parts(value: str) -> DateParts | None:
    """The numbers of a date-shaped value, or None when it is not shaped like a date.

    Memoised: a file's dates repeat, and detection and reading both look at every one.
    """
    plain = _PLAIN_ISO_DATE.fullmatch(value)
    if plain:
        return DateParts(int(plain[2]), int(plain[3]), int(plain[1]), iso=True, dotted=False)
    return _date_parts_read(value)


def _date_parts_read(value: str) -> DateParts | None:
    text = value.strip()
    match = _ISO_DATE.match(text)
    if match and _TIME.fullmatch(text, match.end()):
        return DateParts(int(match[3]), int(match[4]), int(match[1]), iso=True, dotted=False)
    match = _NUMERIC_DATE.match(text)
    if match is None or not _TIME.fullmatch(text, match.end()):
        return None
    year = int(match[5])
    if len(match[5]) == 2:
        # Quicken writes 2000s years after an apostrophe; otherwise the usual pivot (Python's %y).
        year += 2000 if match[4] == "'" or year < 69 else 1900
    return DateParts(int(match[1]), int(match[3]), year, iso=False, dotted=match[2] == ".")


def date_style_detect(dates: Iterable[DateParts], *, hint_day_first: bool = False) -> tuple[str, str]:
    """The file's date order, decided once for the whole file, and a note when it had to guess.

    One day above 12 in first place makes the file day-first (the rows that then fail are
    reported by line); otherwise one above 12 in second place makes it US.
    """
    numeric = day_first = us = dotted = 0
    for parts in dates:
        if parts.iso:
            continue
        numeric += 1
        day_first += parts.first > 12
        us += parts.second > 12
        dotted += parts.dotted
    if not numeric:
        return "iso", ""
    if day_first:
        return "day-first", ""
    if us:
        return "us", ""
    if dotted or hint_day_first:
        reason = "they are written with dots" if dotted else "amounts use a decimal comma"
        return "day-first", f"Every date could be day/month or month/day; read as day/month because {reason}."
    return "us", "Every date could be month/day or day/month; read as month/day (US)."


def date_read(value: str, style: str, *, line: int) -> dt.date:
    if not value.strip():
        raise ProviderDataError(f"Line {line}: the date is empty.")
    parts = date_parts(value)
    if parts is None:
        raise ProviderDataError(f"Line {line}: {quote(value)} is not a date.")
    if parts.iso:
        year, month, day = parts.year, parts.first, parts.second
    elif style == "iso":
        raise ProviderDataError(f"Line {line}: {quote(value)} is not a date in the form YYYY-MM-DD.")
    elif style == "day-first":
        year, month, day = parts.year, parts.second, parts.first
    else:
        year, month, day = parts.year, parts.first, parts.second
    order = "" if parts.iso else (" (read as day/month/year)" if style == "day-first" else " (read as month/day/year)")
    try:
        date = dt.date(year, month, day)
    except ValueError:
        raise ProviderDataError(f"Line {line}: {quote(value)} is not a valid date{order}.") from None
    if not MIN_YEAR <= date.year <= MAX_YEAR:
        raise ProviderDataError(f"Line {line}: {quote(value)} is not a plausible date.")
    return date


# Amounts -------------------------------------------------------------------------------------

_AMOUNT = re.compile(
    r"""(?P<open>\()?\s*
        (?P<sign1>[-+])?\s*
        (?P<cur1>[$€£¥]|[A-Z]{3}(?=[\s\d$€£¥+-]))?\s*
        (?P<sign2>[-+])?\s*
        (?P<number>\d[\d.,' ]*|[.,]\d+)
        (?P<sign3>-)?\s*
        (?P<cur2>[$€£¥]|[A-Z]{3})?\s*
        (?P<crdr>CR|DR)?\.?\s*
        (?P<close>\))?""",
    re.VERBOSE | re.IGNORECASE,
)
# Most cells are plain: these read them as the full patterns do, in a fraction of the time.
_PLAIN_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
_NUMBER_POINT = re.compile(r"(?:\d{1,3}(?:[,']\d{3})+|\d*)(?:\.(\d+))?")
_NUMBER_COMMA = re.compile(r"(?:\d{1,3}(?:[.' ]\d{3})+|\d*)(?:,(\d+))?")
_EVIDENCE_COMMA = re.compile(r"(?:\d{1,3}(?:[.' ]\d{3})+|\d+),\d{1,2}")
_EVIDENCE_POINT = re.compile(r"(?:\d{1,3}(?:[,']\d{3})+|\d+)\.\d{1,2}")


class AmountText(NamedTuple):
    negative: bool
    number: str  # digits and separators only
    currency: str  # ISO code, or "" when the cell names none


@lru_cache(maxsize=4096)
def amount_text(value: str) -> AmountText | None:
    """The sign, digits and currency of an amount cell, or None when it is not shaped like one.

    Reads `-12.50`, `(12.50)`, `$1,234.56`, `-$12.50`, `$-12.50`, `€12,50`, `USD 12.50`,
    `12.50-` and `12.50 CR`/`DR`. `1e309`, `NaN` and `inf` are not amounts. Memoised: detecting
    the decimal mark, the card sign and the currency, then reading, each look at every cell.
    """
    if _PLAIN_AMOUNT.fullmatch(value):
        return AmountText(value[0] == "-", value.lstrip("-"), "")
    return _amount_text_read(value)


def _amount_text_read(value: str) -> AmountText | None:
    text = value.strip().replace("\u2212", "-").replace("\xa0", " ").replace("\u202f", " ")
    match = _AMOUNT.fullmatch(text)
    if match is None or bool(match["open"]) != bool(match["close"]) or (match["cur1"] and match["cur2"]):
        return None
    signs = [match[name] for name in ("open", "sign1", "sign2", "sign3", "crdr") if match[name]]
    if len(signs) > 1:
        return None
    negative = bool(signs) and signs[0].upper() in ("(", "-", "DR")
    symbol = (match["cur1"] or match["cur2"] or "").upper()
    return AmountText(negative, match["number"].strip(), _CURRENCY_SYMBOLS.get(symbol, symbol))


def amount_read(value: str, *, decimal_comma: bool, line: int) -> Decimal:
    if not value.strip():
        raise ProviderDataError(f"Line {line}: the amount is empty.")
    parsed = amount_text(value)
    if parsed is None:
        raise ProviderDataError(f"Line {line}: {quote(value)} is not an amount.")
    if not decimal_comma and _PLAIN_NUMBER.fullmatch(parsed.number):
        amount = Decimal(parsed.number)
        if amount > MAX_AMOUNT:
            raise ProviderDataError(f"Line {line}: {quote(value)} is too large.")
        return (-amount if parsed.negative and amount else amount).quantize(CENT)
    match = (_NUMBER_COMMA if decimal_comma else _NUMBER_POINT).fullmatch(parsed.number)
    if match is None or not any(c.isdigit() for c in parsed.number):
        mark = "comma" if decimal_comma else "point"
        raise ProviderDataError(f"Line {line}: {quote(value)} is not an amount with a decimal {mark}.")
    if match[1] is not None and len(match[1]) > 2:
        raise ProviderDataError(f"Line {line}: {quote(value)} has more than 2 decimal places.")
    digits = re.sub(r"[^\d]", "", parsed.number[: match.start(1) if match[1] is not None else None])
    amount = Decimal(f"{digits or '0'}.{match[1] or ''}".rstrip("."))
    if amount > MAX_AMOUNT:
        raise ProviderDataError(f"Line {line}: {quote(value)} is too large.")
    return (-amount if parsed.negative and amount else amount).quantize(CENT)


def decimal_comma_detect(values: Iterable[str]) -> bool:
    """Whether amounts are written `1.234,56`/`12,50` rather than `1,234.56`/`12.50`."""
    comma = point = 0
    for value in values:
        parsed = amount_text(value)
        if parsed is not None:
            comma += bool(_EVIDENCE_COMMA.fullmatch(parsed.number))
            point += bool(_EVIDENCE_POINT.fullmatch(parsed.number))
    return comma > point


# The mapping ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvMapping:
    """Which column holds what (0-based), and how its dates and amounts are written.

    Either `amount` (negative = money out) or `debit`/`credit` (money out / money in, both
    written as positive numbers; a blank cell is zero). `negate` flips every amount, for card
    exports where purchases are positive.
    """

    date: int
    description: int
    amount: int | None = None
    debit: int | None = None
    credit: int | None = None
    date_style: str = "us"
    decimal_comma: bool = False
    has_header: bool = True
    memo: int | None = None
    external_id: int | None = None
    negate: bool = False

    def __post_init__(self) -> None:
        if self.date_style not in DATE_STYLES:
            raise ProviderDataError(f"The date style must be one of {', '.join(DATE_STYLES)}.")
        for role, column in self.columns().items():
            if isinstance(column, bool) or not isinstance(column, int) or not 0 <= column < MAX_COLUMN:
                raise ProviderDataError(f"The {role} column must be a column index from 0 to {MAX_COLUMN - 1}.")
        if self.amount is None and self.debit is None and self.credit is None:
            raise ProviderDataError("The mapping has no amount column: choose an amount column, or debit and credit.")
        if self.amount is not None and (self.debit is not None or self.credit is not None):
            raise ProviderDataError("Choose either an amount column or debit/credit columns, not both.")
        roles_by_column: dict[int, list[str]] = {}
        for role, column in self.columns().items():
            roles_by_column.setdefault(column, []).append(role)
        for column, roles in roles_by_column.items():
            if len(roles) > 1:
                raise ProviderDataError(f"Column {column + 1} is mapped twice ({' and '.join(roles)}).")

    def columns(self) -> dict[str, int]:
        """The mapped columns by role."""
        roles = ("date", "description", "amount", "debit", "credit", "memo", "external_id")
        return {role: getattr(self, role) for role in roles if getattr(self, role) is not None}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> CsvMapping:
        """A mapping from JSON (an API body, a stored payload); ProviderDataError says what is wrong."""
        if not isinstance(data, dict):
            raise ProviderDataError("The column mapping must be an object.")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ProviderDataError(f"Unknown field in the column mapping: {quote(unknown[0])}.")
        for required in ("date", "description"):
            if data.get(required) is None:
                raise ProviderDataError(f"The column mapping needs a {required} column.")
        for name, value in data.items():
            if name in ("decimal_comma", "has_header", "negate"):
                if not isinstance(value, bool):
                    raise ProviderDataError(f"The mapping's {name} must be true or false.")
            elif name == "date_style":
                if not isinstance(value, str):
                    raise ProviderDataError(f"The date style must be one of {', '.join(DATE_STYLES)}.")
            elif value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ProviderDataError(f"The {name} column must be a column index from 0 to {MAX_COLUMN - 1}.")
        return cls(**data)


@dataclass(frozen=True)
class CsvPreview:
    """How a CSV file was read, for the user to confirm before anything is imported."""

    delimiter: str
    headers: list[str]  # "Column 1", ... when the file has no header row
    mapping: CsvMapping  # the detected one
    rows: list[list[str]]  # the first rows of the table, as written
    lines: list[StatementLine]  # those rows read with the detected mapping
    problems: list[str]
    currency: str = "USD"


@dataclass(frozen=True)
class CsvParsed:
    lines: list[StatementLine]
    mapping: CsvMapping
    currency: str
    problems: list[str]


# Reading the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    delimiter: str
    rows: list[list[str]]
    start: int  # the first data row
    header: int | None  # the header row, just above it
    date_column: int

    @property
    def width(self) -> int:
        return max((len(row) for row in self.rows[self.header if self.header is not None else self.start :]), default=0)

    @cached_property
    def data(self) -> list[tuple[int, list[str]]]:
        """(line number, cells) of every row that may be a transaction."""
        # A note or a blank line inside or below the table holds at most one cell.
        return [
            (index + 1, row)
            for index, row in enumerate(self.rows[self.start :], self.start)
            if sum(1 for cell in row if cell.strip()) >= 2
        ]


def _delimiter_detect(text: str) -> tuple[str, str]:
    """The delimiter, and the text without Excel's `sep=;` first line if it had one."""
    first_line = text.split("\n", 1)[0].strip()
    if first_line.lower().startswith("sep=") and len(first_line) == 5:
        return first_line[4], text.split("\n", 1)[1] if "\n" in text else ""
    sample = "\n".join(text.split("\n", 200)[:200])
    best, best_score = ",", (0, 0, 0)
    for preference, delimiter in enumerate(DELIMITERS):
        try:
            widths = [len(row) for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not widths:
            continue
        width, agreeing = Counter(widths).most_common(1)[0]
        # The most rows agreeing on one layout of two cells or more.
        score = (agreeing if width >= 2 else 0, width, -preference)
        if score > best_score:
            best, best_score = delimiter, score
    return best, text


def _rows_read(text: str, delimiter: str) -> list[list[str]]:
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > MAX_ROWS + TABLE_SEARCH_ROWS:
                raise ProviderDataError(TOO_MANY_ROWS)
    except csv.Error as exc:
        raise ProviderDataError(f"Line {len(rows) + 1}: the file is not valid CSV ({exc}).") from None
    return rows


def _table_find(rows: Sequence[Sequence[str]], date_column: int | None) -> tuple[int, int]:
    """(first data row, date column): the first row whose date column holds dates in most rows from there on."""
    for index, row in enumerate(rows[:TABLE_SEARCH_ROWS]):
        candidates = [date_column] if date_column is not None else range(len(row))
        for column in candidates:
            if column >= len(row) or date_parts(row[column]) is None:
                continue
            window = [r for r in rows[index : index + TABLE_WINDOW] if sum(1 for c in r if c.strip()) >= 2]
            dated = sum(1 for r in window if column < len(r) and date_parts(r[column]) is not None)
            if dated * 5 >= len(window) * 4:
                return index, column
    if date_column is not None:
        raise ProviderDataError(f"No dates in column {date_column + 1}: check the date column of the mapping.")
    raise ProviderDataError("No date column: no column holds dates like 2026-11-03 or 11/03/2026 in most rows.")


def _table_read(text: str, date_column: int | None = None) -> _Table:
    delimiter, text = _delimiter_detect(text)
    rows = _rows_read(text, delimiter)
    content = [row for row in rows if sum(1 for cell in row if cell.strip()) >= 2]
    if not content or (len(content) == 1 and not any(date_parts(cell) for cell in content[0])):
        raise ProviderDataError(NO_TRANSACTIONS)  # blank, or a header row alone: an empty period's export
    start, column = _table_find(rows, date_column)
    header = None
    if start > 0:
        above = rows[start - 1]
        if sum(1 for cell in above if cell.strip()) >= 2 and (column >= len(above) or not date_parts(above[column])):
            header = start - 1
    table = _Table(delimiter, rows, start, header, column)
    if len(table.data) > MAX_ROWS:
        raise ProviderDataError(TOO_MANY_ROWS)
    return table


# Guessing the mapping ------------------------------------------------------------------------


def _header_key(name: str) -> str:
    """`Trans. Date` -> `trans date`, `Auftraggeber / Empfänger` -> `auftraggeber empfanger`."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain.lower()).split())


def _by_name(keys: Sequence[str], names: Sequence[str], taken: set[int], *, loose: bool = False) -> int | None:
    """The first column named one of `names` (best first); `loose` also accepts a name among other words."""
    for name in names:
        for index, key in enumerate(keys):
            if index in taken:
                continue
            if key == name or (loose and f" {name} " in f" {key} " and not {"balance", "date"} & set(key.split())):
                return index
    return None


def _amount_like(cell: str) -> bool:
    parsed = amount_text(cell)
    if parsed is None:
        return False
    return bool(_EVIDENCE_COMMA.fullmatch(parsed.number) or _EVIDENCE_POINT.fullmatch(parsed.number))


def _guess_by_values(rows: Sequence[Sequence[str]], width: int, taken: set[int]) -> tuple[int | None, int | None]:
    """(amount, description) columns of a file without usable headers."""

    def cells(column: int) -> list[str]:
        return [row[column] if column < len(row) else "" for row in rows]

    amount = None
    for column in range(width):
        values = cells(column)
        if column not in taken and values and sum(map(_amount_like, values)) * 5 >= len(values) * 4:
            amount = column
            break
    best, best_length = None, 0.0
    for column in range(width):
        values = [v for v in cells(column) if v.strip()]
        if column in taken or column == amount or len(values) * 2 < len(rows):
            continue
        if any(date_parts(v) or amount_text(v) for v in values):
            continue
        length = sum(len(v.strip()) for v in values) / len(values)
        if length > best_length:
            best, best_length = column, length
    return amount, best


def _mapping_detect(table: _Table) -> tuple[CsvMapping, list[str], list[str]]:
    """(mapping, headers, problems) guessed from the header names, then from the values."""
    rows = [row for _, row in table.data]
    sample = rows[:500]
    width = table.width
    names = table.rows[table.header] if table.header is not None else []
    headers = [name.strip() or f"Column {i + 1}" for i, name in enumerate(names)]
    headers += [f"Column {i + 1}" for i in range(len(headers), width)]
    keys = [_header_key(name) for name in names]
    problems: list[str] = []

    date = _by_name(keys, DATE_NAMES, set())
    if date is None or not all(date_parts(r[date]) for r in sample[:20] if date < len(r) and r[date].strip()):
        date = table.date_column
    taken = {date}
    amount = _by_name(keys, AMOUNT_NAMES, taken)
    debit = credit = None
    if amount is None:
        debit, credit = _by_name(keys, DEBIT_NAMES, taken), _by_name(keys, CREDIT_NAMES, taken)
        if debit is None or credit is None:
            amount = _by_name(keys, AMOUNT_NAMES, taken, loose=True)
            debit = credit = None
        if amount is None and debit is None:
            debit = _by_name(keys, DEBIT_NAMES, taken, loose=True)
            credit = _by_name(keys, CREDIT_NAMES, taken | {debit} if debit is not None else taken, loose=True)
            if debit is None or credit is None:
                debit = credit = None
    taken |= {c for c in (amount, debit, credit) if c is not None}
    description = _by_name(keys, DESCRIPTION_NAMES, taken)
    if description is None:
        description = _by_name(keys, ("description",), taken, loose=True)
    if table.header is None or (amount is None and debit is None) or description is None:
        by_value_amount, by_value_description = _guess_by_values(sample, width, taken)
        if table.header is None and amount is None and debit is None:
            amount = by_value_amount
        if description is None:
            description = by_value_description
    if amount is None and debit is None:
        if table.header is None:
            raise ProviderDataError("No amount column: no column holds amounts like -12.50 in most rows.")
        seen = ", ".join(quote(name) for name in names[:12] if name.strip())
        raise ProviderDataError(
            f"No amount column: the headers are {seen}; expected one named Amount, or Debit and Credit."
        )
    taken |= {c for c in (amount, debit, credit) if c is not None}
    if description is None:
        description = next((c for c in range(width) if c not in taken), None)
        if description is None:
            raise ProviderDataError("No description column: the file has only date and amount columns.")
    taken.add(description)
    memo = _by_name(keys, MEMO_NAMES, taken)
    if memo is not None:
        taken.add(memo)
    external_id = _by_name(keys, ID_NAMES, taken)
    if external_id is not None:
        ids = [r[external_id].strip() if external_id < len(r) else "" for r in rows]
        if not all(ids) or len(set(ids)) != len(ids):
            external_id = None  # not a bank's transaction id: some rows lack one, or it repeats

    money_columns = [c for c in (amount, debit, credit) if c is not None]
    money = [r[c] for r in rows for c in money_columns if c < len(r) and r[c].strip()]
    decimal_comma = decimal_comma_detect(money)
    dates = [date_parts(r[date]) for r in rows if date < len(r)]
    date_style, note = date_style_detect((d for d in dates if d is not None), hint_day_first=decimal_comma)
    if note:
        problems.append(note)
    negate = False
    if amount is not None:
        negate = _purchases_positive(rows, amount, description, problems)
    mapping = CsvMapping(
        date=date,
        description=description,
        amount=amount,
        debit=debit,
        credit=credit,
        date_style=date_style,
        decimal_comma=decimal_comma,
        has_header=table.header is not None,
        memo=memo,
        external_id=external_id,
        negate=negate,
    )
    return mapping, headers, problems


def _purchases_positive(rows: Sequence[Sequence[str]], amount: int, description: int, problems: list[str]) -> bool:
    """Whether this is a card export that writes purchases as positive amounts (American Express does)."""
    signs: list[tuple[bool, str]] = []
    for row in rows:
        parsed = amount_text(row[amount]) if amount < len(row) else None
        if parsed is not None and parsed.number.strip("0.,") != "":
            signs.append((parsed.negative, row[description] if description < len(row) else ""))
    positive = sum(1 for negative, _ in signs if not negative)
    if len(signs) < 3 or positive * 3 < len(signs) * 2:
        return False
    # Mostly money in: a savings account, or a card whose purchases are positive. Only the
    # card has its payments among the few negative rows.
    if any(negative and _CARD_PAYMENT.search(text) for negative, text in signs):
        problems.append(
            "Most amounts are positive and the negative ones are payments: read as a card export where "
            "purchases are positive, so every sign is flipped."
        )
        return True
    problems.append("Most amounts are positive. If this is a card export where purchases are positive, flip the signs.")
    return False


def _currency_detect(table: _Table, mapping: CsvMapping) -> str:
    counts: Counter[str] = Counter()
    columns = [c for c in (mapping.amount, mapping.debit, mapping.credit) if c is not None]
    for _, row in table.data:
        for column in columns:
            parsed = amount_text(row[column]) if column < len(row) else None
            if parsed is not None and parsed.currency:
                counts[parsed.currency] += 1
    if table.header is not None and not counts:
        for column in columns:
            name = table.rows[table.header][column] if column < len(table.rows[table.header]) else ""
            for word in _header_key(name).split():
                if word in ("usd", "eur", "gbp", "cad", "aud", "chf"):
                    counts[word.upper()] += 1
    return counts.most_common(1)[0][0] if counts else "USD"


# Reading rows --------------------------------------------------------------------------------


def _line(row: Sequence[str], number: int, mapping: CsvMapping, keys: ContentKeys) -> StatementLine | None:
    """The row's transaction; None for a balance row that some banks put in the table."""

    def cell(column: int | None) -> str:
        return row[column] if column is not None and column < len(row) else ""

    description = text_clean(cell(mapping.description), line=number)
    memo = text_clean(cell(mapping.memo), line=number, what="memo")
    if mapping.amount is not None:
        if not cell(mapping.amount).strip() and _BALANCE_ROW.match(description):
            return None
        amount = amount_read(cell(mapping.amount), decimal_comma=mapping.decimal_comma, line=number)
    else:
        debit, credit = cell(mapping.debit), cell(mapping.credit)
        if not debit.strip() and not credit.strip():
            if _BALANCE_ROW.match(description):
                return None
            raise ProviderDataError(f"Line {number}: both the debit and the credit cells are empty.")
        amount = Decimal("0.00")
        if debit.strip():
            amount -= abs(amount_read(debit, decimal_comma=mapping.decimal_comma, line=number))
        if credit.strip():
            amount += abs(amount_read(credit, decimal_comma=mapping.decimal_comma, line=number))
    if mapping.negate:
        amount = -amount
    if not amount:
        amount = abs(amount)  # no -0.00
    posted_on = date_read(cell(mapping.date), mapping.date_style, line=number)
    if not description:
        description, memo = memo, ""
    external_id = cell(mapping.external_id).strip()
    if len(external_id) > 255:
        raise ProviderDataError(f"Line {number}: the transaction id is longer than 255 characters.")
    try:
        return StatementLine(
            external_id=external_id or keys.key(posted_on, amount, description),
            posted_on=posted_on,
            amount=amount,
            description=description,
            memo=memo,
        )
    except ProviderDataError as exc:
        raise ProviderDataError(f"Line {number}: {exc}") from None


def _width_check(table: _Table, row: Sequence[str], number: int) -> None:
    # `2026-11-03,Shop,-12,50` reads as -12 unless someone notices the fourth cell. (An empty
    # cell past the header is fine: Chase ends every row with a comma.)
    if table.header is None:
        return
    width = len(table.rows[table.header])
    if any(cell.strip() for cell in row[width:]):
        raise ProviderDataError(
            f"Line {number} has {len(row)} cells but the header has {width}: "
            f"a value holds an unquoted {table.delimiter!r}."
        )


def _lines(table: _Table, mapping: CsvMapping) -> list[StatementLine]:
    widest = max(mapping.columns().values())
    if widest >= table.width:
        raise ProviderDataError(f"The mapping reads column {widest + 1}, but the file has only {table.width} columns.")
    keys = ContentKeys()
    lines: list[StatementLine] = []
    first_line_of: dict[str, int] = {}
    id_column = mapping.external_id
    for number, row in table.data:
        _width_check(table, row, number)
        line = _line(row, number, mapping, keys)
        if line is None:
            continue
        bank_id = row[id_column].strip() if id_column is not None and id_column < len(row) else ""
        if bank_id in first_line_of:
            # Two rows with one id would become one transaction: refuse rather than lose one.
            raise ProviderDataError(
                f"Line {number}: the transaction id {quote(bank_id)} repeats line {first_line_of[bank_id]}; "
                "choose another id column, or none."
            )
        if bank_id:
            first_line_of[bank_id] = number
        lines.append(line)
    return lines


def csv_text_preview(text: str) -> CsvPreview:
    """The detected layout of a CSV export and its first rows read with it.

    Raises ProviderDataError when no date or amount column can be found; a row that does not
    read is a problem in the preview, not an error.
    """
    table = _table_read(text)
    mapping, headers, problems = _mapping_detect(table)
    first = table.data[:PREVIEW_ROWS]
    keys = ContentKeys()
    lines = []
    for number, row in first:
        try:
            _width_check(table, row, number)
            line = _line(row, number, mapping, keys)
        except ProviderDataError as exc:
            problems.append(str(exc))
            continue
        if line is not None:
            lines.append(line)
    return CsvPreview(
        delimiter=table.delimiter,
        headers=headers,
        mapping=mapping,
        rows=[row for _, row in first],
        lines=lines,
        problems=problems,
        currency=_currency_detect(table, mapping),
    )


def csv_text_parse(text: str, mapping: CsvMapping | None = None) -> CsvParsed:
    """Every transaction of a CSV export, read with `mapping` (the detected one when None)."""
    table = _table_read(text, mapping.date if mapping is not None else None)
    problems: list[str] = []
    if mapping is None:
        mapping, _, problems = _mapping_detect(table)
    return CsvParsed(_lines(table, mapping), mapping, _currency_detect(table, mapping), problems)
