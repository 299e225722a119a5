"""Files the product hands out (CSV, zip), written so a spreadsheet never runs what a bank sent.

Bank text (payees, memos, merchant names, provider messages) is chosen by whoever writes
the statement, and a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a
formula (OWASP "CSV injection"); a leading tab or line break hides the same trick. The
rule is by type, not by content:

- every `str` cell is text that may come from outside, so one that starts with `=`, `+`,
  `-`, `@`, tab, CR or LF gets a `'` in front (the spreadsheet shows the text, runs nothing);
- a `Decimal` is money the database computed, written with `format(value, "f")`: `-12.50`
  stays a number a spreadsheet sums (a money column must never carry the `'`);
- dates, booleans, integers and empty values are written by this module, never taken as text.

So a payee literally named "-12.50" is exported as text (`'-12.50`), and the amount
-12.50 as a number, which is what each is.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import TextIO

from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
BYTE_ORDER_MARK = "\ufeff"  # so a spreadsheet opening the file reads it as UTF-8 (accents, €)
ROWS_PER_CHUNK = 500  # a streamed response writes ~50 KB at a time, not one write per row

Cell = str | Decimal | int | bool | dt.date | dt.datetime | None


def spreadsheet_text(value: str) -> str:
    """Text a spreadsheet shows as text: a formula trigger at the start is neutralised with `'`."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return spreadsheet_text(str(value))


class _Line:
    """A file-like object whose write returns what it was given: csv.writer then hands back each line."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """The CSV text in chunks of ROWS_PER_CHUNK rows, header first; `rows` is consumed lazily."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    chunk = [BYTE_ORDER_MARK + writer.writerow(header)]
    for row in rows:
        chunk.append(writer.writerow([csv_cell(value) for value in row]))
        if len(chunk) >= ROWS_PER_CHUNK:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def csv_write(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> int:
    """Write the CSV to `out` (opened with newline=""); returns the number of rows."""
    writer = csv.writer(out, lineterminator="\r\n")
    out.write(BYTE_ORDER_MARK)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
        count += 1
    return count


def csv_streaming_response(
    *, filename: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]
) -> StreamingHttpResponse:
    """A download streamed as it is read from the database: memory stays flat for any row count.

    `filename` is the product's own (ASCII, no quotes), never user or bank text.
    """
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"  # a bank statement: no shared or disk cache keeps it
    return response


class DownloadRenderer(JSONRenderer):
    """Lets an API view that streams a file answer a client asking for that file's type.

    The file itself is a Django response the view returns as is; what this renders is only
    an error (401, 400), which goes out as JSON, labelled as JSON.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return super().render(data, "application/json", renderer_context)


class CsvRenderer(DownloadRenderer):
    media_type = "text/csv"
    format = "csv"


class ZipRenderer(DownloadRenderer):
    media_type = "application/zip"
    format = "zip"
