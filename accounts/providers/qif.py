"""QIF (Quicken Interchange Format) exports of one bank, cash or card account.

A record is a run of lines, each a one-letter code and a value (D date, T amount, P payee,
M memo, N check number, L category), ended by `^`. QIF has no transaction ids, so every line
gets a content key. Its dates come in whatever style the exporting program liked; the day/month
order is decided once for the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import ContentKeys, ProviderDataError, StatementLine
from .csv_file import (
    MAX_ROWS,
    TOO_MANY_ROWS,
    amount_read,
    date_parts,
    date_read,
    date_style_detect,
    decimal_comma_detect,
    quote,
    text_clean,
)

# `!Type:` of a transaction list -> Account.Kind. Quicken writes other assets and liabilities as
# `Oth A` and `Oth L`.
ACCOUNT_TYPES = {
    "bank": "checking",
    "cash": "checking",
    "ccard": "credit-card",
    "oth a": "checking",
    "oth l": "checking",
}
# Lists a full Quicken export carries besides transactions; their records are skipped.
LIST_TYPES = {"cat", "class", "memorized", "security", "prices", "budget", "invoice", "template", "bill"}
# Split lines (category, memo, amount, percent) repeat per split; the record's own T is the total.
SPLIT_CODES = {"S", "E", "$", "%"}


@dataclass
class _Record:
    line: int  # where it starts, for messages
    fields: dict[str, tuple[int, str]] = field(default_factory=dict)  # code -> (line, value), first wins

    def value(self, code: str) -> str:
        return self.fields[code][1] if code in self.fields else ""

    def line_of(self, code: str) -> int:
        return self.fields[code][0] if code in self.fields else self.line

    def amount(self) -> tuple[int, str]:
        """(line, text) of the amount: T, or U (the same amount, in newer Quicken) when T is missing."""
        return self.fields.get("T") or self.fields.get("U") or (self.line, "")


def _records(text: str) -> tuple[str, list[_Record]]:
    kind: str | None = None
    section: str | None = None  # an account kind, "skip" inside a list, None before any header
    records: list[_Record] = []
    current: _Record | None = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("!"):
            if current is not None:  # a record the exporter did not close with ^
                records.append(current)
                current = None
            header = line[1:].strip().lower()
            if header.startswith("type:"):
                qif_type = " ".join(header[5:].split())
                if qif_type.startswith("invst"):
                    raise ProviderDataError(
                        "This is an investment account's QIF file; investment QIF is not supported. "
                        "Export a bank or credit-card account."
                    )
                if qif_type in LIST_TYPES:
                    section = "skip"
                    continue
                if qif_type.startswith("oth"):
                    qif_type = qif_type[:5]  # `Oth A`, `Oth L`, and `Oth A/L` as some tools write it
                if qif_type not in ACCOUNT_TYPES:
                    raise ProviderDataError(f"Line {number}: unknown QIF section {quote(line)}.")
                if records:
                    raise ProviderDataError("The QIF file holds more than one account; export one account at a time.")
                section = kind = ACCOUNT_TYPES[qif_type]
            elif header.startswith("account"):
                section = "skip"  # the account list, or the account a following !Type belongs to
            continue  # !Option:AutoSwitch, !Clear:AutoSwitch
        if section is None:
            raise ProviderDataError(f"Line {number}: not a QIF file: it does not start with a !Type: line.")
        if section == "skip":
            continue
        if line.startswith("^"):
            if current is not None:
                records.append(current)
                current = None
            if len(records) > MAX_ROWS:
                raise ProviderDataError(TOO_MANY_ROWS)
            continue
        code, value = line[0].upper(), line[1:]
        if code in SPLIT_CODES:
            continue
        if current is None:
            current = _Record(number)
        current.fields.setdefault(code, (number, value))
    if current is not None:
        records.append(current)
    if kind is None:
        raise ProviderDataError("Not a QIF bank or card file: it has no !Type:Bank, !Type:CCard or !Type:Cash list.")
    return kind, records


def qif_read(text: str) -> tuple[str, list[StatementLine]]:
    """(Account.Kind, lines) of a QIF export: "credit-card" for !Type:CCard, "checking" otherwise."""
    kind, records = _records(text)
    for record in records:
        if "D" not in record.fields:
            raise ProviderDataError(f"Line {record.line}: the transaction has no date (D line).")
        if "T" not in record.fields and "U" not in record.fields:
            raise ProviderDataError(f"Line {record.line}: the transaction has no amount (T line).")
    dates = (date_parts(record.value("D")) for record in records)
    date_style, _ = date_style_detect(d for d in dates if d is not None)
    decimal_comma = decimal_comma_detect(record.amount()[1] for record in records)
    keys = ContentKeys()
    lines = []
    for record in records:
        date_line, date_text = record.fields["D"]
        amount_line, amount_text = record.amount()
        posted_on = date_read(date_text, date_style, line=date_line)
        amount = amount_read(amount_text, decimal_comma=decimal_comma, line=amount_line)
        payee = text_clean(record.value("P"), line=record.line_of("P"), what="payee")
        memo = text_clean(record.value("M"), line=record.line_of("M"), what="memo")
        description, memo = (payee, memo) if payee else (memo, "")
        check = record.value("N").strip()  # or ATM, DEP, EFT, TXFR in Quicken's own exports
        if check.isdigit():
            if description:
                memo = f"{memo} Check #{check}".strip()
            else:
                description = f"Check #{check}"
        try:
            lines.append(
                StatementLine(
                    external_id=keys.key(posted_on, amount, description),
                    posted_on=posted_on,
                    amount=amount,
                    description=description,
                    memo=memo[:255],
                )
            )
        except ProviderDataError as exc:
            raise ProviderDataError(f"Line {record.line}: {exc}") from None
    return kind, lines


def qif_parse(text: str) -> list[StatementLine]:
    """The transactions of a QIF bank, cash or card export; ProviderDataError names the line at fault."""
    return qif_read(text)[1]
