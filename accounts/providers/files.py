"""Uploaded statement files: which format a file is, its text, and the statement it holds.

OFX and QFX go to the OFX parser and name their own account. QIF and CSV hold one account's
transactions and no account id: they become one statement for the account the user names.
Everything here is pure: bytes in, records out, ProviderDataError with a readable message.
"""

from __future__ import annotations

import codecs
import re

from django.conf import settings

from .base import AccountRef, ParsedPayload, ProviderDataError, Statement, StatementLine
from .csv_file import DELIMITERS, NO_TRANSACTIONS, CsvMapping, CsvPreview, csv_text_parse, csv_text_preview, quote
from .ofx import statements_parse
from .qif import qif_parse, qif_read

__all__ = [
    "FILE_FORMATS",
    "CsvMapping",
    "CsvPreview",
    "csv_parse",
    "csv_preview",
    "file_format_detect",
    "file_parse",
    "qif_parse",
    "text_decode",
]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# File name extension -> format. QBO (QuickBooks Web Connect) is OFX under another name.
FILE_FORMATS = {
    ".ofx": "ofx",
    ".qfx": "ofx",
    ".qbo": "ofx",
    ".qif": "qif",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
}
SUPPORTED = "supported: OFX, QFX, QIF, CSV."
# What people upload instead of an export, by its first bytes.
_BINARY_KINDS = {
    b"%PDF": "(a PDF document)",
    b"PK\x03\x04": "(an Excel workbook or another zip archive; save the sheet as CSV)",
    b"\xd0\xcf\x11\xe0": "(an Excel 97-2003 workbook; save the sheet as CSV)",
}
# Longest first: a UTF-32 mark starts with the UTF-16 one.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NUL_BYTES = (
    "The file contains NUL bytes: it is not a text export (OFX, QFX, QIF or CSV), "
    "or it is UTF-16 text without a byte-order mark."
)
_OFX_V1_CHARSET = re.compile(r"\b(ENCODING|CHARSET)\s*:\s*[\w-]*", re.IGNORECASE)


def _size_text(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{round(limit / (1024 * 1024), 1):g} MB"
    if limit >= 1024:
        return f"{round(limit / 1024, 1):g} KB"
    return f"{limit} bytes"


def _size_check(raw: bytes) -> None:
    # Before any decoding or parsing: those are what a huge upload would make expensive.
    limit = getattr(settings, "IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)
    if len(raw) > limit:
        raise ProviderDataError(f"The file is larger than {_size_text(limit)}.")


def _encoding_by_mark(raw: bytes) -> str | None:
    return next((encoding for mark, encoding in _BYTE_ORDER_MARKS if raw.startswith(mark)), None)


def text_decode(raw: bytes) -> str:
    """The text of an export: UTF-8 or UTF-16/32 by byte-order mark, else UTF-8, else Windows-1252.

    Windows-1252 is what Excel and most US and European banks write when they do not write
    UTF-8. Its five undefined bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) make the file an error
    rather than a silent Latin-1 guess.
    """
    encoding = _encoding_by_mark(raw)
    if encoding is None:
        if b"\x00" in raw:
            raise ProviderDataError(_NUL_BYTES)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ProviderDataError(
                f"The file is neither UTF-8 nor Windows-1252 text (byte 0x{raw[exc.start]:02X} at position "
                f"{exc.start:,}); save it as UTF-8 and upload it again."
            ) from None
    try:
        text = raw.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError:
        name = encoding.removesuffix("-sig").upper()
        raise ProviderDataError(f"The file starts with a {name} byte-order mark but is not valid {name}.") from None
    if "\x00" in text:
        raise ProviderDataError(_NUL_BYTES)
    return text


def _head(raw: bytes) -> str:
    """The start of the file as text, good enough to recognise it (not to parse it)."""
    chunk = raw[:4096]
    encoding = _encoding_by_mark(chunk)
    return chunk.decode(encoding or "utf-8", "ignore").removeprefix("\ufeff").lstrip()


def file_format_detect(filename: str, raw: bytes) -> str:
    """The file's format, "ofx", "qif" or "csv": by its content first, its name's extension second."""
    head = _head(raw)
    if not head.strip():
        raise ProviderDataError("The file is empty.")
    upper = head.upper()
    if upper.startswith(("OFXHEADER", "<OFX", "<?OFX")) or (upper.startswith("<?XML") and "OFX" in upper):
        return "ofx"
    if upper.startswith(("!TYPE:", "!ACCOUNT", "!OPTION:", "!CLEAR:")):
        return "qif"
    for magic, kind in _BINARY_KINDS.items():
        if raw.startswith(magic):
            raise ProviderDataError(f"Unsupported file type {kind}; {SUPPORTED}")
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    file_format = FILE_FORMATS.get(extension)
    if file_format is None:
        kind = quote(extension) if extension else "(the file name has no extension)"
        raise ProviderDataError(f"Unsupported file type {kind}; {SUPPORTED}")
    if file_format == "csv" and not any(d in line for line in head.splitlines()[:10] for d in DELIMITERS):
        raise ProviderDataError(f"Unsupported file type (text without delimited columns); {SUPPORTED}")
    return file_format


def _ofx_normalise(raw: bytes) -> bytes:
    """OFX as ofxtools reads it best: UTF-8 with no byte-order mark, the header saying so.

    ofxtools refuses a document that starts with a byte-order mark, decodes an SGML body only
    with a CHARSET it knows (and as UTF-8 when the header says NONE, though the bytes are often
    Windows-1252), and reads XML as UTF-8 whatever the declaration says.
    """
    text = text_decode(raw)
    if "<OFX>" in text.upper() and "</OFX>" not in text.upper():
        raise ProviderDataError("Not a valid OFX document: it is cut short (no closing </OFX>); download it again.")
    body = text.find("<")
    header = text[:body] if body > 0 else ""
    if "OFXHEADER" in header.upper():
        header = _OFX_V1_CHARSET.sub(
            lambda match: f"{match[1]}:{'UTF-8' if match[1].upper() == 'ENCODING' else 'NONE'}", header
        )
        text = header + text[body:]
    return text.encode("utf-8")


def _text(raw: bytes) -> str:
    _size_check(raw)
    if not raw.strip():
        raise ProviderDataError("The file is empty.")
    return text_decode(raw)


def csv_preview(raw: bytes) -> CsvPreview:
    """How a CSV export reads with the detected mapping: its first rows, for the user to confirm.

    ProviderDataError when no date or amount column can be found (naming the headers seen).
    """
    return csv_text_preview(_text(raw))


def csv_parse(raw: bytes, mapping: CsvMapping) -> list[StatementLine]:
    """Every transaction of a CSV export, read with the mapping the user confirmed."""
    return csv_text_parse(_text(raw), mapping).lines


def file_parse(*, filename: str, raw: bytes, mapping: CsvMapping | None = None) -> ParsedPayload:
    """The statements an uploaded OFX, QFX, QIF or CSV file holds.

    A QIF or CSV file becomes one statement with no account id (kind "credit-card" for a QIF
    card list, "checking" otherwise) and no balance. `mapping` is used for CSV only; without it
    the detected one is. Raises ProviderDataError for anything that is not a usable statement.
    """
    _size_check(raw)
    file_format = file_format_detect(filename, raw)
    if file_format == "ofx":
        parsed = statements_parse(_ofx_normalise(raw))
        if not any(statement.lines for statement in parsed.statements):
            raise ProviderDataError(NO_TRANSACTIONS)
        return parsed
    text = text_decode(raw)
    problems: list[str] = []
    if file_format == "qif":
        kind, lines = qif_read(text)
        currency = "USD"
    else:
        result = csv_text_parse(text, mapping)
        kind, lines, currency, problems = "checking", result.lines, result.currency, result.problems
    if not lines:
        raise ProviderDataError(NO_TRANSACTIONS)
    return ParsedPayload([Statement(AccountRef(external_id="", kind=kind), currency, tuple(lines))], problems)
