"""The transactions list as CSV: the page's filters, every page, streamed, formula-safe, audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
import tracemalloc
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from mint.downloads import csv_cell, spreadsheet_text
from security.models import AuditEvent
from transactions.exports import TRANSACTION_CSV_HEADER

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)


def read_csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # so a spreadsheet reads UTF-8
    return list(csv.DictReader(io.StringIO(body[1:])))


@pytest.fixture
def history(user, ingest):
    """120 coffees in November (more than two pages of 50), 5 fuel stops in October, and hostile payees."""
    checking = AccountFactory.create(user=user, name="Everyday Checking")
    card = AccountFactory.create(user=user, name="Card")
    ingest(
        checking,
        *((NOV + dt.timedelta(days=n % 28), f"-{n % 9 + 1}.50", f"BLUE BOTTLE COFFEE #{n}") for n in range(120)),
    )
    ingest(card, *((dt.date(2026, 10, n + 1), "-40.00", f"SHELL OIL {n}") for n in range(5)))
    ingest(
        checking,
        (NOV, "-12.50", '=HYPERLINK("http://evil.example","click")'),
        (NOV, "-1.00", "+SUM(A1:A9)"),
        (NOV, "25.00", "-12.50"),
        (NOV, "-2.00", "@cmd"),
    )
    return checking, card


def test_the_download_holds_every_page_of_the_filtered_list(client, user, history):
    client.force_login(user)
    page = client.get("/transactions/", {"q": "blue bottle", "month": "2026-11"}).content.decode()
    assert "120 transactions match these filters" in page
    assert 'href="/transactions/export.csv?q=blue+bottle&amp;month=2026-11"' in page

    response = client.get("/transactions/export.csv", {"q": "blue bottle", "month": "2026-11"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="transactions-')
    assert response["Cache-Control"] == "private, no-store"
    rows = read_csv(response)
    assert list(rows[0]) == TRANSACTION_CSV_HEADER
    assert len(rows) == 120
    assert {row["description"] for row in rows} == {f"BLUE BOTTLE COFFEE #{n}" for n in range(120)}
    assert {row["account"] for row in rows} == {"Everyday Checking"}
    dates = [row["date"] for row in rows]
    assert dates == sorted(dates, reverse=True)  # the list's order, newest first


def test_an_invalid_filter_is_dropped_as_on_the_page(client, user, history):
    client.force_login(user)
    rows = read_csv(client.get("/transactions/export.csv", {"account": history[1].pk, "amount_min": "abc"}))
    assert {row["description"] for row in rows} == {f"SHELL OIL {n}" for n in range(5)}


def test_text_cells_are_neutralised_and_amounts_stay_numbers(client, user, history):
    client.force_login(user)
    rows = read_csv(client.get("/transactions/export.csv", {"month": "2026-11", "amount_max": "30"}))
    by_amount = {(row["amount"], row["description"]) for row in rows if not row["description"].startswith("BLUE")}

    assert by_amount == {
        ("-12.50", '\'=HYPERLINK("http://evil.example","click")'),
        ("-1.00", "'+SUM(A1:A9)"),
        ("25.00", "'-12.50"),  # a payee that looks like a number is text; the amount is the number
        ("-2.00", "'@cmd"),
    }
    for row in rows:
        assert Decimal(row["amount"])  # every amount reads as a plain number
        assert row["pending"] in ("true", "false")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\n=1", "'\n=1"),
        ("BLUE = BOTTLE", "BLUE = BOTTLE"),
        ("", ""),
        (Decimal("-12.50"), "-12.50"),
        (Decimal("1E+1"), "10"),
        (True, "true"),
        (7, "7"),
        (None, ""),
        (dt.date(2026, 11, 3), "2026-11-03"),
    ],
)
def test_the_cell_rule(value, written):
    assert csv_cell(value) == written


def test_text_is_neutralised_by_type_not_content():
    assert spreadsheet_text("-12.50") == "'-12.50"
    assert csv_cell(Decimal("-12.50")) == "-12.50"


def test_the_export_is_audited_with_its_size_never_its_content(client, user, history):
    client.force_login(user)
    b"".join(client.get("/transactions/export.csv", {"q": "shell"}).streaming_content)

    [event] = AuditEvent.objects.filter(user=user, action=AuditEvent.Action.EXPORT)
    assert event.detail == {"what": "transactions", "format": "csv", "rows": 5, "filters": ["q"]}


def test_the_api_export_honours_the_lists_filters(user_client, user, history):
    response = user_client.get("/api/v1/transactions/export.csv", {"month": "2026-10"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = read_csv(response)
    listed = user_client.get("/api/v1/transactions/", {"month": "2026-10"}).json()["results"]
    assert [row["description"] for row in rows] == [txn["description"] for txn in listed]
    assert [row["amount"] for row in rows] == [txn["amount"] for txn in listed]
    assert AuditEvent.objects.get(user=user, action=AuditEvent.Action.EXPORT).detail["rows"] == 5


@pytest.mark.parametrize("path", ["/api/v1/transactions/export", "/api/v1/transactions/export/"])
def test_the_api_export_without_the_suffix_and_with_a_csv_accept_header(user_client, history, path):
    response = user_client.get(path, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert len(read_csv(response)) == 129


def test_a_bad_api_filter_is_a_json_400(user_client, history):
    response = user_client.get("/api/v1/transactions/export.csv", {"month": "November"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "month" in response.json()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_anonymous_exports_are_refused(client, api_client):
    assert client.get("/transactions/export.csv")["Location"].startswith("/login/")
    assert api_client.get("/api/v1/transactions/export.csv").status_code == 401


LARGE = 50_000


def test_fifty_thousand_rows_stream_in_flat_memory(client, user, ingest):
    account = AccountFactory.create(user=user, name="Busy")
    today = timezone.localdate()
    ingest(
        account,
        *(
            (today - dt.timedelta(days=n % 700), f"-{n % 97 + 1}.{n % 100:02d}", f"STORE {n % 151} PURCHASE", f"F{n}")
            for n in range(LARGE)
        ),
    )
    client.force_login(user)
    b"".join(client.get("/transactions/export.csv", {"q": "no such row"}).streaming_content)  # imports, warm

    tracemalloc.start()
    started = time.monotonic()
    try:
        response = client.get("/transactions/export.csv")
        rows = size = 0
        for chunk in response.streaming_content:  # as the server would write it, chunk by chunk
            rows += chunk.count(b"\r\n")
            size += len(chunk)
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert rows == LARGE + 1  # and the header
    print(f"\nexport: {LARGE:,} rows, {size / 1e6:.1f} MB in {seconds:.2f} s, peak {peak / 1e6:.1f} MB")
    # Held whole, the body alone would be `size` (3.7 MB) and the rows as tuples ten times that;
    # streamed, the peak is one chunk of rows from the database plus one chunk of text.
    assert peak < min(size * 0.75, 3_000_000)
