"""Uploaded statement files: OFX, QFX, QIF and CSV as banks really export them (samples in data/)."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.providers import csv_file
from accounts.providers.base import ProviderDataError
from accounts.providers.files import (
    CsvMapping,
    csv_parse,
    csv_preview,
    file_format_detect,
    file_parse,
    qif_parse,
    text_decode,
)

DATA = Path(__file__).parent / "data"
CSV_HEADER = "Date,Description,Amount\r\n"


def parse(filename, raw=None, mapping=None):
    """The one statement of a file: its lines, account, currency and problems."""
    if raw is None:
        raw = (DATA / filename).read_bytes()
    payload = file_parse(filename=filename, raw=raw, mapping=mapping)
    assert len(payload.statements) == 1
    return payload.statements[0], payload.problems


def simple_csv(*rows: str) -> bytes:
    return (CSV_HEADER + "".join(f"{row}\r\n" for row in rows)).encode()


def qif(*records: str, qif_type: str = "Bank") -> str:
    return f"!Type:{qif_type}\n" + "".join(f"{record}\n^\n" for record in records)


# Every sample reads ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "count", "kind", "currency", "index", "expected"),
    [
        ("checking_sgml_cp1252.ofx", 2, "checking", "USD", 0, ("2026-11-03", "-4.75", "CAFÉ LUMIÈRE")),
        ("card_xml_bom.qfx", 2, "credit-card", "USD", 0, ("2026-11-02", "-12.50", "Crème Brûlée Bakery")),
        ("quicken_us.qif", 6, "checking", "USD", 0, ("2026-12-25", "-1234.56", "BEST BUY #123")),
        ("day_first_card.qif", 4, "credit-card", "USD", 1, ("2026-11-25", "-40.00", "SHELL PETROL")),
        ("chase_checking.csv", 6, "checking", "USD", 3, ("2026-11-01", "-150.00", "CHECK 1042")),
        ("chase_credit_card.csv", 5, "checking", "USD", 3, ("2026-10-29", "12.99", "AMAZON MKTPL*RETURN")),
        ("bank_of_america.csv", 4, "checking", "USD", 3, ("2026-11-20", "-1216.45", "PG&E DES:WEB ONLINE ID:1234567")),
        ("wells_fargo.csv", 4, "checking", "USD", 0, ("2026-11-03", "-12.50", "COFFEE SHOP")),
        ("capital_one.csv", 3, "checking", "USD", 0, ("2026-11-04", "-18.40", "UBER TRIP HELP.UBER.COM")),
        ("european_cp1252.csv", 3, "checking", "EUR", 2, ("2026-11-14", "-1234.56", "Stadtwerke München")),
        ("amex.csv", 4, "checking", "USD", 1, ("2026-11-02", "-412.30", "DELTA AIR LINES")),
        ("utf8_bom.csv", 2, "checking", "USD", 0, ("2026-11-03", "-8.25", "Crème de la Crème Bakery")),
    ],
)  # fmt: skip
def test_every_sample_file_reads(filename, count, kind, currency, index, expected):
    statement, _ = parse(filename)

    assert len(statement.lines) == count
    assert statement.account.kind == kind
    assert statement.currency == currency
    line = statement.lines[index]
    assert (line.posted_on.isoformat(), str(line.amount), line.description) == expected


def test_qif_and_csv_name_no_account_and_no_balance():
    statement, _ = parse("chase_checking.csv")
    assert statement.account.external_id == ""
    assert statement.balance is None


def test_ofx_keeps_its_own_account_and_balance():
    statement, _ = parse("checking_sgml_cp1252.ofx")
    assert statement.account.external_id == "000123456789"
    assert statement.balance == Decimal("3120.55")
    assert [line.external_id for line in statement.lines] == ["2026110301", "2026110401"]


def test_quicken_dates_in_every_style_of_one_file():
    statement, _ = parse("quicken_us.qif")
    assert [line.posted_on.isoformat() for line in statement.lines] == [
        "2026-12-25",  # 12/25'26
        "2027-01-05",  # 1/ 5'27
        "2026-05-01",  # 5/ 1'2026
        "2026-12-31",  # 12/31/26
        "2027-01-15",  # 01-15-2027
        "2027-01-20",  # 2027-01-20
    ]
    assert statement.lines[4].memo == "Check #1044"
    assert statement.lines[5].description == "Cash withdrawal"  # no payee: the memo describes it


def test_bank_of_america_summary_block_and_balance_row_are_skipped():
    preview = csv_preview((DATA / "bank_of_america.csv").read_bytes())

    assert preview.headers == ["Date", "Description", "Amount", "Running Bal."]
    assert preview.mapping.amount == 2
    assert preview.rows[0][1] == "Beginning balance as of 11/01/2026"
    assert [str(line.amount) for line in preview.lines] == ["-56.78", "-200.00", "2500.00", "-1216.45"]


def test_wells_fargo_without_a_header_is_read_by_its_values():
    preview = csv_preview((DATA / "wells_fargo.csv").read_bytes())

    assert preview.headers == ["Column 1", "Column 2", "Column 3", "Column 4", "Column 5"]
    assert (preview.mapping.date, preview.mapping.amount, preview.mapping.description) == (0, 1, 4)
    assert not preview.mapping.has_header


def test_european_file_is_semicolon_day_first_decimal_comma():
    preview = csv_preview((DATA / "european_cp1252.csv").read_bytes())

    assert preview.delimiter == ";"
    assert preview.mapping.date_style == "day-first"
    assert preview.mapping.decimal_comma
    assert preview.currency == "EUR"
    assert preview.lines[0].description == "CAFÉ MÜLLER"
    assert preview.lines[0].memo == "Kartenzahlung girocard"


def test_amex_charges_are_flipped_and_its_reference_is_the_id():
    statement, problems = parse("amex.csv")

    assert [str(line.amount) for line in statement.lines] == ["-6.50", "-412.30", "1250.00", "-35.99"]
    assert statement.lines[0].external_id == "'320263070123456781'"
    assert statement.lines[0].memo == "BLUE BOTTLE COFFEE SAN FRANCISCO CA"  # a quoted field over two lines
    assert any("flipped" in problem for problem in problems)


def test_capital_one_debit_is_money_out_and_credit_money_in():
    statement, _ = parse("capital_one.csv")
    assert [str(line.amount) for line in statement.lines] == ["-18.40", "250.00", "-62.15"]


def test_chase_card_reads_the_post_date_and_the_memo():
    preview = csv_preview((DATA / "chase_credit_card.csv").read_bytes())
    assert preview.headers[preview.mapping.date] == "Post Date"
    assert preview.lines[3].memo == "Item returned"


def test_utf16_with_byte_order_mark_reads_like_utf8():
    text = (DATA / "chase_checking.csv").read_text()
    utf8, _ = parse("chase.csv", text.encode())
    utf16, _ = parse("chase.csv", text.encode("utf-16"))
    assert utf16.lines == utf8.lines


def test_sgml_ofx_with_windows_1252_bytes_reads_whatever_charset_it_declares():
    raw = (DATA / "checking_sgml_cp1252.ofx").read_bytes().replace(b"CHARSET:1252", b"CHARSET:NONE")
    statement, _ = parse("bank.ofx", raw)
    assert statement.lines[0].description == "CAFÉ LUMIÈRE"


@pytest.mark.parametrize(
    ("qif_type", "kind"),
    [
        ("Bank", "checking"),
        ("CCard", "credit-card"),
        ("Cash", "checking"),
        ("Oth A", "checking"),
        ("Oth L", "checking"),
    ],
)
def test_qif_account_kinds(qif_type, kind):
    statement, _ = parse("export.qif", qif("D11/03/2026\nT-1.00\nPSHOP", qif_type=qif_type).encode())
    assert statement.account.kind == kind


def test_a_single_row_without_a_header_reads():
    statement, _ = parse("one.csv", b"2026-11-03,Shop,-1.00")
    assert [(line.description, str(line.amount)) for line in statement.lines] == [("Shop", "-1.00")]


def test_csv_with_a_mapping_uses_it():
    mapping = CsvMapping(date=1, description=0, amount=2, date_style="iso", has_header=False, negate=True)
    lines = csv_parse(b"Coffee,2026-11-03,4.75\r\nRefund,2026-11-04,-4.75\r\n", mapping)
    assert [(line.description, str(line.amount)) for line in lines] == [("Coffee", "-4.75"), ("Refund", "4.75")]


# Stable keys --------------------------------------------------------------------------------


def test_two_identical_coffees_get_two_stable_keys():
    first, _ = parse("chase_checking.csv")
    again, _ = parse("chase_checking.csv")

    coffees = [line.external_id for line in first.lines[:2]]
    assert first.lines[0].description == first.lines[1].description
    assert coffees[0] != coffees[1]
    assert [line.external_id for line in again.lines] == [line.external_id for line in first.lines]


def test_an_overlapping_later_export_gives_the_same_keys_for_shared_rows():
    october = simple_csv("2026-10-30,NETFLIX.COM,-15.49", "2026-11-03,COFFEE,-4.75", "2026-11-03,COFFEE,-4.75")
    november = simple_csv("2026-11-03,COFFEE,-4.75", "2026-11-03,Coffee ,-4.75", "2026-11-05,RENT,-1500.00")

    old, _ = parse("october.csv", october)
    new, _ = parse("november.csv", november)

    assert [line.external_id for line in new.lines[:2]] == [line.external_id for line in old.lines[1:]]
    assert new.lines[2].external_id not in {line.external_id for line in old.lines}


def test_qif_lines_get_content_keys():
    lines = qif_parse(qif("D11/03/2026\nT-4.75\nPCOFFEE", "D11/03/2026\nT-4.75\nPCOFFEE"))
    assert all(line.external_id.startswith("k:") for line in lines)
    assert lines[0].external_id != lines[1].external_id


# Date and amount styles --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("12/25/2026", "2026-12-25"),
        ("12/25/26", "2026-12-25"),
        ("12/25'26", "2026-12-25"),
        ("12-25-2026", "2026-12-25"),
        ("2026-12-25", "2026-12-25"),
        ("25/12/2026", "2026-12-25"),
        ("1/ 5/26", "2026-01-05"),
        (" 5/ 1'2026", "2026-05-01"),
    ],
)
def test_qif_date_styles(written, expected):
    [line] = qif_parse(qif(f"D{written}\nT-1.00\nPSHOP"))
    assert line.posted_on.isoformat() == expected


def test_one_unambiguous_day_first_date_makes_the_whole_qif_day_first():
    lines = qif_parse(qif("D03/11/2026\nT-1.00\nPA", "D25/11/2026\nT-1.00\nPB"))
    assert [line.posted_on for line in lines] == [dt.date(2026, 11, 3), dt.date(2026, 11, 25)]


@pytest.mark.parametrize(
    ("dates", "style", "expected"),
    [
        (["2026-11-03", "2026-11-14"], "iso", dt.date(2026, 11, 3)),
        (["11/03/2026", "11/14/2026"], "us", dt.date(2026, 11, 3)),
        (["11/3/26", "11/14/26"], "us", dt.date(2026, 11, 3)),
        (["03/11/2026", "14/11/2026"], "day-first", dt.date(2026, 11, 3)),
        (["03.11.2026", "14.11.2026"], "day-first", dt.date(2026, 11, 3)),
    ],
)
def test_csv_date_style_is_detected_across_the_rows(dates, style, expected):
    preview = csv_preview(simple_csv(*(f"{date},Shop,-1.00" for date in dates)))
    assert preview.mapping.date_style == style
    assert preview.lines[0].posted_on == expected
    assert preview.problems == []


def test_ambiguous_dates_are_read_as_us_and_say_so():
    preview = csv_preview(simple_csv("03/11/2026,Shop,-1.00", "04/11/2026,Shop,-2.00"))
    assert preview.mapping.date_style == "us"
    assert preview.lines[0].posted_on == dt.date(2026, 3, 11)
    assert "month/day" in preview.problems[0]


@pytest.mark.parametrize(
    ("written", "decimal_comma", "expected"),
    [
        ("-12.50", False, "-12.50"),
        ("(12.50)", False, "-12.50"),
        ("12,50", True, "12.50"),
        ("-1.234,56", True, "-1234.56"),
        ("$1,234.56", False, "1234.56"),
        ("-$12.50", False, "-12.50"),
        ("$-12.50", False, "-12.50"),
        ("€12,50", True, "12.50"),
        ("£7.20", False, "7.20"),
        ("USD 12.50", False, "12.50"),
        ("12.50-", False, "-12.50"),
        ("12.50 CR", False, "12.50"),
        ("12.50 DR", False, "-12.50"),
        ("+3", False, "3.00"),
    ],
)
def test_amount_styles(written, decimal_comma, expected):
    mapping = CsvMapping(date=0, description=1, amount=2, date_style="iso", decimal_comma=decimal_comma)
    [line] = csv_parse(simple_csv(f'2026-11-03,Shop,"{written}"'), mapping)
    assert str(line.amount) == expected


@pytest.mark.parametrize(
    ("rows", "decimal_comma"),
    [(["2026-11-03,Shop,-4.75", "2026-11-04,Shop,12.5"], False), (['2026-11-03,Shop,"-4,75"'], True)],
)
def test_decimal_comma_is_detected_from_the_values(rows, decimal_comma):
    assert csv_preview(simple_csv(*rows)).mapping.decimal_comma is decimal_comma


def test_blank_debit_and_credit_cells_are_zero():
    raw = b"Date,Description,Debit,Credit\r\n2026-11-03,Fee,,\r\n"
    with pytest.raises(ProviderDataError, match="Line 2: both the debit and the credit cells are empty"):
        parse("fees.csv", raw)


def test_a_10000_character_payee_is_cut_not_refused():
    [line] = csv_parse(simple_csv(f"2026-11-03,{'A  B ' * 2000},-1.00"), CsvMapping(0, 1, 2, date_style="iso"))
    assert len(line.description) == 255
    assert line.description.startswith("A B A B")


# Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "raw", "message"),
    [
        ("empty.csv", b"", "The file is empty"),
        ("blank.qif", b"  \r\n\r\n", "The file is empty"),
        ("header-only.csv", CSV_HEADER.encode(), "The file holds no transactions"),
        ("no-records.qif", b"!Type:Bank\r\n", "The file holds no transactions"),
        ("x.csv", b"Date,Description,Value Date\r\n2026-11-03,Shop,2026-11-03\r\n2026-11-04,Shop,2026-11-04\r\n",
         "No amount column: the headers are 'Date', 'Description', 'Value Date'"),
        ("x.csv", simple_csv("2026-11-03,Shop,-1.00", "2026-02-30,Shop,-1.00"),
         "Line 3: '2026-02-30' is not a valid date"),
        ("x.csv", simple_csv("13/45/2026,Shop,-1.00"), r"Line 2: '13/45/2026' is not a valid date \(read as day"),
        ("x.csv", simple_csv("2026-11-03,Shop,1e309"), "Line 2: '1e309' is not an amount"),
        ("x.csv", simple_csv("2026-11-03,Shop,NaN"), "Line 2: 'NaN' is not an amount"),
        ("x.csv", simple_csv("2026-11-03,Shop,inf"), "Line 2: 'inf' is not an amount"),
        ("x.csv", simple_csv("2026-11-03,Shop,-1.00", "2026-11-04,Shop,"), "Line 3: the amount is empty"),
        ("x.csv", simple_csv("2026-11-03,Shop,-1.005"), "Line 2: '-1.005' has more than 2 decimal places"),
        ("x.csv", simple_csv("2026-11-03,Shop,9999999999999.00"), "Line 2: '9999999999999.00' is too large"),
        ("x.csv", simple_csv(*["2026-11-03,A,-1.00"] * 5, "tomorrow,A,-1.00"), "Line 7: 'tomorrow' is not a date"),
        ("x.csv", simple_csv("2026-11-03,Shop," + "9" * 100), r"Line 2: '9{40}…' is too large"),
        ("x.csv", b"Date,Description,Amount\r\n2026-11-03,Caf\x00,-1.00\r\n", "NUL bytes"),
        ("x.csv", b"Date,Description,Amount\r\n2026-11-03,Caf\x81,-1.00\r\n",
         "neither UTF-8 nor Windows-1252 text \\(byte 0x81"),
        ("x.ofx", (DATA / "checking_sgml_cp1252.ofx").read_bytes()[:600], "Not a valid OFX document: it is cut short"),
        ("x.ofx", (DATA / "checking_sgml_cp1252.ofx").read_bytes().replace(b"<BANKTRANLIST>", b""),
         "Not a valid OFX document"),
        ("x.qif", qif("D11/03/2026\nT-1.00\nPA", qif_type="Invst").encode(), "investment QIF is not supported"),
        ("x.qif", qif("T-1.00\nPA").encode(), "Line 2: the transaction has no date"),
        ("x.qif", qif("D11/03/2026\nT-1.00", "D11/04/2026\nTNaN").encode(), "Line 6: 'NaN' is not an amount"),
        ("x.qif", b"!Type:Bank\nD1/1/26\nT1\n^\n!Type:CCard\nD1/1/26\nT1\n^\n", "more than one account"),
        ("statement.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", r"Unsupported file type \(a PDF document\)"),
        ("export.xlsx", b"PK\x03\x04\x14\x00", "Unsupported file type .*Excel"),
        ("notes.doc", b"Dear bank, ...", "Unsupported file type '.doc'; supported: OFX, QFX, QIF, CSV."),
        ("notes.txt", b"Dear bank\nplease send money\n", "Unsupported file type"),
    ],
)  # fmt: skip
def test_bad_files_say_what_is_wrong(filename, raw, message):
    with pytest.raises(ProviderDataError, match=message):
        file_parse(filename=filename, raw=raw)


def test_an_ofx_without_transactions_is_refused():
    raw = (DATA / "card_xml_bom.qfx").read_bytes()
    start, end = raw.index(b"<STMTTRN>"), raw.rindex(b"</STMTTRN>") + len(b"</STMTTRN>")
    with pytest.raises(ProviderDataError, match="The file holds no transactions"):
        file_parse(filename="card.qfx", raw=raw[:start] + raw[end:])


def test_a_file_over_the_size_limit_is_refused_before_reading(settings):
    settings.IMPORT_MAX_BYTES = 10 * 1024 * 1024
    with pytest.raises(ProviderDataError, match=r"^The file is larger than 10 MB\.$"):
        file_parse(filename="big.csv", raw=b"\x00" * (10 * 1024 * 1024 + 1))  # NUL bytes: size is checked first

    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(ProviderDataError, match="larger than 100 bytes"):
        csv_preview((DATA / "chase_checking.csv").read_bytes())


def test_more_than_100000_rows_is_refused():
    raw = simple_csv(*["2026-11-03,Shop,-1.00"] * 100_001)
    with pytest.raises(ProviderDataError, match="more than 100,000 transactions"):
        file_parse(filename="huge.csv", raw=raw)


def test_a_row_wider_than_the_header_is_refused():
    message = "Line 2 has 4 cells but the header has 3: a value holds an unquoted ','"
    with pytest.raises(ProviderDataError, match=message):
        file_parse(filename="x.csv", raw=simple_csv("2026-11-03,Shop,-12,50"))


def test_a_repeated_bank_id_is_refused():
    mapping = CsvMapping(date=1, description=2, amount=3, date_style="iso", external_id=0)
    raw = b"Id,Date,Description,Amount\r\nA1,2026-11-03,Shop,-1.00\r\nA1,2026-11-04,Shop,-2.00\r\n"
    with pytest.raises(ProviderDataError, match="Line 3: the transaction id 'A1' repeats line 2"):
        csv_parse(raw, mapping)


def test_a_mapping_wider_than_the_file_is_refused():
    mapping = CsvMapping(date=0, description=1, amount=7, date_style="iso")
    with pytest.raises(ProviderDataError, match="reads column 8, but the file has only 3 columns"):
        csv_parse(simple_csv("2026-11-03,Shop,-1.00"), mapping)


def test_a_preview_row_that_does_not_read_is_a_problem_not_an_error():
    preview = csv_preview(simple_csv("2026-11-03,Shop,-1.00", "2026-11-04,Shop,oops"))
    assert len(preview.lines) == 1
    assert preview.problems == ["Line 3: 'oops' is not an amount."]


def test_nul_in_a_qif_description_is_refused():
    with pytest.raises(ProviderDataError, match="Line 4: the payee contains NUL bytes"):
        qif_parse(qif("D11/03/2026\nT-1.00\nPCAF\x00E"))


# Encodings and formats ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"\xef\xbb\xbfCaf\xc3\xa9", "Café"),
        ("Café".encode("utf-16"), "Café"),
        ("Café".encode("utf-16-be"), None),  # no byte-order mark: NUL bytes
        (b"Caf\xc3\xa9", "Café"),
        (b"Caf\xe9 \x80", "Café €"),
    ],
)
def test_text_decode(raw, text):
    if text is None:
        with pytest.raises(ProviderDataError, match="NUL bytes"):
            text_decode(raw)
    else:
        assert text_decode(raw) == text


@pytest.mark.parametrize(
    ("filename", "raw", "expected"),
    [
        ("bank.qfx", b"OFXHEADER:100\r\nDATA:OFXSGML", "ofx"),
        ("download.txt", b"\xef\xbb\xbfOFXHEADER:100\r\n", "ofx"),
        ("bank.dat", b'<?xml version="1.0"?>\n<?OFX OFXHEADER="200"?><OFX>', "ofx"),
        ("export", b"!Type:Bank\nD1/1/26\n", "qif"),
        ("export.QIF", b"!Account\nNChecking\n", "qif"),
        ("export.csv", b"Date,Amount\n", "csv"),
        ("export.txt", b"Date\tAmount\n", "csv"),
    ],
)
def test_file_format_detect(filename, raw, expected):
    assert file_format_detect(filename, raw) == expected


# The mapping as JSON --------------------------------------------------------------------------


def test_mapping_round_trips_through_a_dict():
    mapping = csv_preview((DATA / "amex.csv").read_bytes()).mapping
    assert CsvMapping.from_dict(mapping.to_dict()) == mapping


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([0, 1, 2], "must be an object"),
        ({"date": 0, "description": 1, "amount": 2, "colour": "red"}, "Unknown field in the column mapping: 'colour'"),
        ({"description": 1, "amount": 2}, "needs a date column"),
        ({"date": 0, "description": 1}, "no amount column"),
        ({"date": 0, "description": 1, "amount": 2, "debit": 3}, "either an amount column or debit/credit"),
        ({"date": 0, "description": 1, "amount": 1}, r"Column 2 is mapped twice \(description and amount\)"),
        ({"date": 0, "description": 1, "amount": "2"}, "amount column must be a column index"),
        ({"date": 0, "description": 1, "amount": -1}, "amount column must be a column index"),
        ({"date": 0, "description": 1, "amount": 5000}, "amount column must be a column index"),
        ({"date": True, "description": 1, "amount": 2}, "date column must be a column index"),
        ({"date": 0, "description": 1, "amount": 2, "date_style": "french"}, "date style must be one of"),
        ({"date": 0, "description": 1, "amount": 2, "negate": "yes"}, "negate must be true or false"),
    ],
)  # fmt: skip
def test_nonsense_mappings_are_refused(data, message):
    with pytest.raises(ProviderDataError, match=message):
        CsvMapping.from_dict(data)


@pytest.mark.parametrize(
    "value",
    ["-12.50", "12.50", "0", "-0.00", "007", "12.5", "12.505", "1234567.89", "9" * 40, "-", "12.", ".5", "1-2"],
)
def test_plain_amounts_read_as_the_full_pattern_reads_them(value):
    """The shortcut for the common plain cell must agree with the general reader, cell for cell."""
    assert csv_file.amount_text(value) == csv_file._amount_text_read(value)


@pytest.mark.parametrize(
    ("value", "decimal_comma", "expected"),
    [
        ("-12.50", False, Decimal("-12.50")),
        ("12.5", False, Decimal("12.50")),
        ("007", False, Decimal("7.00")),
        ("-0.00", False, Decimal("0.00")),
        ("999999999999.99", False, Decimal("999999999999.99")),
        ("1000000000000", False, "Line 2: '1000000000000' is too large."),
        ("12.505", False, "Line 2: '12.505' has more than 2 decimal places."),
        ("12", True, Decimal("12.00")),
        ("12.50", True, "Line 2: '12.50' is not an amount with a decimal comma."),
    ],
)
def test_plain_amounts_read(value, decimal_comma, expected):
    read: Decimal | str
    try:
        read = csv_file.amount_read(value, decimal_comma=decimal_comma, line=2)
    except ProviderDataError as exc:
        read = str(exc)
    assert read == expected
    assert str(read) == str(expected)  # the same exponent: 12.50, not 12.5


@pytest.mark.parametrize("value", ["2026-11-03", "2026-02-30", "0000-00-00", "2026-1-03", "2026-11-03 ", "2026/11/03"])
def test_plain_iso_dates_read_as_the_full_pattern_reads_them(value):
    assert csv_file.date_parts(value) == csv_file._date_parts_read(value)
