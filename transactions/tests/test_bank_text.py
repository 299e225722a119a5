"""Bank text is written by whoever writes the statement: it must stay inert everywhere it shows.

Hostile payees and memos arrive through the real import path (an OFX file uploaded through
`file_import`, which keeps CR/LF inside a payee as the bank sent it), and a hostile error
message arrives from a (loopback) OFX server refusing the login, as a bank's STATUS MESSAGE.
Each is then checked where it shows: every HTML page (escaped, never in an href or src), the
admin change lists, the API's JSON, both parts of the email (escaped in HTML, plain in text,
never in a header), the CSV download, and the log (one record per line).
"""

from __future__ import annotations

import io
import json
import logging
import re
from html.parser import HTMLParser
from xml.sax.saxutils import escape

import pytest

from accounts import services as account_services
from accounts.models import Connection, Institution, SyncJob
from accounts.tests.factories import AccountFactory, ConnectionFactory
from accounts.tests.ofx_servers import ofx_server
from categories.models import Category
from mint.logging import SingleLineFormatter
from mint.tests.factories import UserFactory
from notifications.models import Notification
from transactions.models import Transaction
from transactions.services import file_import, sync_job_run, transaction_recategorize

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
JS_LINK = "javascript:alert(1)"
COOKIE = "\r\nSet-Cookie: x=1"
LOG_LINE = "\r\n[ERROR] forged log line"
HOSTILE = [SCRIPT, ATTRIBUTE, JS_LINK, COOKIE, LOG_LINE]
# The forms that must never appear raw in a page: markup that would run, or start a tag.
RAW_MARKUP = [SCRIPT, "<img src=x", "onerror=alert(1)>"]

XML_HEADER = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\r\n'
    b'<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\r\n'
)
SIGNON_OK = (
    b"<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
    b"<DTSERVER>20261101</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1>"
)


def ofx_card_statement(lines: list[tuple[str, str, str]]) -> bytes:
    """An OFX 2.2 card statement; each line is (payee, memo, amount), XML-escaped as a bank would."""
    transactions = b"".join(
        f"<STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>202611{day:02d}</DTPOSTED><TRNAMT>{amount}</TRNAMT>"
        f"<FITID>H{day}</FITID><NAME>{escape(payee)}</NAME><MEMO>{escape(memo)}</MEMO></STMTTRN>\r\n".encode()
        for day, (payee, memo, amount) in enumerate(lines, start=1)
    )
    return (
        XML_HEADER + b"<OFX>" + SIGNON_OK + b"<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>1</TRNUID><STATUS><CODE>0</CODE>"
        b"<SEVERITY>INFO</SEVERITY></STATUS><CCSTMTRS><CURDEF>USD</CURDEF><CCACCTFROM><ACCTID>4000001234567899"
        b"</ACCTID></CCACCTFROM><BANKTRANLIST><DTSTART>20261101</DTSTART><DTEND>20261130</DTEND>\r\n"
        + transactions
        + b"</BANKTRANLIST><LEDGERBAL><BALAMT>0</BALAMT><DTASOF>20261130</DTASOF></LEDGERBAL></CCSTMTRS>"
        b"</CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>\r\n"
    )


def ofx_login_refused(message: str) -> bytes:
    """A bank's answer refusing the login (OFX code 15500), with its own words in STATUS MESSAGE."""
    return (
        XML_HEADER + b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500</CODE><SEVERITY>ERROR</SEVERITY>"
        b"<MESSAGE>" + escape(message).encode() + b"</MESSAGE></STATUS><DTSERVER>20261101</DTSERVER>"
        b"<LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1></OFX>\r\n"
    )


PROVIDER_MESSAGE = "".join(HOSTILE)


@pytest.fixture
def hostile(user, django_capture_on_commit_callbacks, mailoutbox):
    """The user's statement full of hostile payees and memos, a rule made from one, and a bank
    connection whose login the bank refuses with a hostile message (at an institution whose
    curated name has a line break, as a subject's worst case)."""
    lines = [(f"PAYEE {text}", f"MEMO {text}", f"-{n}.00") for n, text in enumerate(HOSTILE, start=1)]
    lines.append((JS_LINK, LOG_LINE.strip(), "-9.00"))
    with django_capture_on_commit_callbacks(execute=True):
        result = file_import(user=user, account_name="Card", raw=ofx_card_statement(lines), filename="card.qfx")
    assert result.new == len(lines)
    txn = Transaction.objects.filter(user=user, description=f"PAYEE {SCRIPT}").get()
    with django_capture_on_commit_callbacks(execute=True):
        transaction_recategorize(txn=txn, category=Category.objects.get(path="food/dining"), always=True)

    server = ofx_server(ofx_login_refused(PROVIDER_MESSAGE))
    bank = Institution.objects.create(
        name="Evil\r\nBcc: victim@example.com Bank", ofx_url=f"http://127.0.0.1:{server.server_port}/ofx"
    )
    connection = ConnectionFactory.create(
        user=user, institution=bank, url=f"http://127.0.0.1:{server.server_port}/ofx", bank_id="121000248"
    )
    AccountFactory.create(user=user, connection=connection, external_id="000555000555", bank_id="121000248")
    job, _ = account_services.sync_job_request(connection=connection, trigger=SyncJob.Trigger.MANUAL)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = sync_job_run(job_id=job.pk)
    server.shutdown()
    assert outcome.status == "needs-attention"
    connection.refresh_from_db()
    assert PROVIDER_MESSAGE in connection.last_error  # stored as the bank sent it, escaped on the way out
    return connection


class _Attributes(HTMLParser):
    """Every tag and the URL-bearing attribute values of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]
        self.urls += [value or "" for name, value in attrs if name in ("href", "src", "action", "formaction")]


def assert_inert(page: str) -> None:
    for raw in RAW_MARKUP:
        assert raw not in page
    parsed = _Attributes()
    parsed.feed(page)
    assert parsed.handlers == []  # no onerror=, onload=... attribute reached the page
    for url in parsed.urls:  # bank text never becomes a link target
        assert not url.strip().lower().startswith("javascript:"), url
        assert "alert(1)" not in url, url
        assert "Set-Cookie" not in url, url
        assert "forged" not in url, url


def assert_no_hostile_headers(response) -> None:
    assert "x" not in response.cookies
    for name, value in response.items():
        assert "\r" not in value
        assert "\n" not in value, name
        assert "alert(1)" not in value, name


PAGES = {
    "transactions": "/transactions/",
    "search": "/transactions/?q=alert",
    "dashboard": "/?month=2026-11",
    "accounts": "/accounts/",
    "budgets": "/budgets/",
    "notifications": "/notifications/",
    "rules": "/rules/",
}


@pytest.mark.parametrize("name", PAGES)
def test_every_page_escapes_bank_text(client, user, hostile, name):
    client.force_login(user)
    response = client.get(PAGES[name])

    assert response.status_code == 200
    page = response.content.decode()
    assert_inert(page)
    assert_no_hostile_headers(response)
    shows = {
        "transactions": [
            "PAYEE &lt;script&gt;alert(1)&lt;/script&gt;",
            "MEMO &quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
        ],
        "search": ["PAYEE &lt;script&gt;alert(1)&lt;/script&gt;"],
        "dashboard": ["PAYEE &lt;script&gt;alert(1)&lt;/script&gt;"],
        "accounts": ["The bank rejected the login: &lt;script&gt;alert(1)&lt;/script&gt;"],
        "budgets": [],
        "notifications": ["&lt;script&gt;alert(1)&lt;/script&gt;"],
        "rules": [],  # a rule names the normalised merchant: the markup is gone already
    }[name]
    for escaped in shows:
        assert escaped in page


ADMIN_LISTS = [
    "/admin/transactions/transaction/",
    "/admin/transactions/transaction/?q=alert",
    "/admin/accounts/connection/",
    "/admin/accounts/syncjob/",
    "/admin/accounts/account/",
    "/admin/notifications/notification/",
    "/admin/categories/userrule/",
]


@pytest.mark.parametrize("path", ADMIN_LISTS)
def test_the_admin_change_lists_escape_bank_text(client, hostile, path):
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    response = client.get(path)
    if response.status_code == 404:
        pytest.skip(f"{path} is not registered in the admin")
    assert response.status_code == 200
    assert_inert(response.content.decode())


def test_the_admin_change_form_of_a_connection_escapes_its_last_error(client, hostile):
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    page = client.get(f"/admin/accounts/connection/{hostile.pk}/change/").content.decode()
    assert_inert(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_api_answers_valid_json_strings(user_client, user, hostile):
    for path, field in [
        ("/api/v1/transactions/", "description"),
        ("/api/v1/connections/", "last_error"),
        ("/api/v1/sync-jobs/", "message"),
        ("/api/v1/notifications/", "body"),
    ]:
        response = user_client.get(path)
        assert response["Content-Type"] == "application/json"
        raw = response.content.decode()
        assert "\r" not in raw  # a CR or LF inside a string is written \r, \n: the body stays one JSON text
        assert "\n" not in raw
        values = [row[field] for row in json.loads(raw)["results"]]
        assert any(SCRIPT in value for value in values), path
        assert any("\r\n" in value for value in values), path  # the text itself is unchanged


def test_the_email_escapes_html_and_keeps_its_headers_single_line(hostile, mailoutbox):
    [email] = mailoutbox
    assert email.subject == "Your connection to Evil Bcc: victim@example.com Bank needs attention"
    message = email.message()
    for header in ("Subject", "To", "From"):
        assert "\n" not in message[header]
        assert "\r" not in message[header]
    assert message["Bcc"] is None
    assert email.bcc == []
    assert PROVIDER_MESSAGE in email.body  # the text part is plain text: shown as the bank wrote it
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_subject_with_line_breaks_is_sent_on_one_line(user, django_capture_on_commit_callbacks, mailoutbox):
    from notifications.services import notification_create

    with django_capture_on_commit_callbacks(execute=True):
        notification_create(
            user=user, kind="test", subject=f"Paid {COOKIE}{LOG_LINE}", body="b", dedupe_key="subject-crlf"
        )
    [email] = mailoutbox
    assert email.subject == "Paid Set-Cookie: x=1 [ERROR] forged log line"
    assert Notification.objects.get(user=user).subject == email.subject


def test_the_csv_download_keeps_bank_text_as_inert_text(client, user, hostile):
    client.force_login(user)
    response = client.get("/transactions/export.csv")
    assert_no_hostile_headers(response)
    body = b"".join(response.streaming_content).decode()
    import csv

    rows = list(csv.DictReader(io.StringIO(body[1:])))
    memos = {row["memo"] for row in rows}
    assert f"MEMO {COOKIE}" in memos  # inside a quoted cell: the CSV reads back as written
    assert "[ERROR] forged log line" in memos  # "[" is no formula trigger: left as it is
    assert {row["description"] for row in rows if row["amount"] == "-9.00"} == {JS_LINK}


LOG_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} [A-Z]+ [\w.-]+: ")


@pytest.fixture
def console_log():
    """The console handler the project's LOGGING setting configured, writing into a buffer."""
    [handler] = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler) and isinstance(handler.formatter, SingleLineFormatter)
    ]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_a_log_record_with_bank_text_stays_one_line(console_log, user, hostile):
    logger = logging.getLogger("transactions.services")
    txn = Transaction.objects.filter(user=user, memo=f"MEMO {LOG_LINE}").get()
    logger.warning("payee %s, memo %s", txn.description, txn.memo)
    logger.warning(f"connection error: {hostile.last_error}")
    try:
        raise ValueError(hostile.last_error)
    except ValueError:
        logger.exception("sync of connection %s failed", hostile.pk)

    lines = console_log.getvalue().splitlines()
    records = [line for line in lines if not line.startswith("    ")]
    assert len(records) == 3, lines
    assert all(LOG_PREFIX.match(line) for line in records), records
    assert not any(
        line.lstrip().startswith(("[ERROR]", "Set-Cookie")) and not line.startswith("    ") for line in lines
    )
    assert "memo MEMO \\r\\n[ERROR] forged log line" in records[0]
    assert "\\r\\nSet-Cookie: x=1" in records[1]
    assert any("ValueError: " in line for line in lines)


def test_the_sync_itself_logs_no_forged_line(console_log, user, django_capture_on_commit_callbacks):
    server = ofx_server(ofx_login_refused(PROVIDER_MESSAGE))
    connection = ConnectionFactory.create(user=user, url=f"http://127.0.0.1:{server.server_port}/ofx")
    AccountFactory.create(user=user, connection=connection, external_id="000555000555", bank_id="121000248")
    job, _ = account_services.sync_job_request(connection=connection, trigger=SyncJob.Trigger.MANUAL)
    logging.getLogger("transactions.services").warning("sync %s: %s", job.pk, PROVIDER_MESSAGE)
    with django_capture_on_commit_callbacks(execute=True):
        sync_job_run(job_id=job.pk)
    server.shutdown()

    for line in console_log.getvalue().splitlines():
        assert LOG_PREFIX.match(line) or line.startswith("    "), line
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.NEEDS_ATTENTION
