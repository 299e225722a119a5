"""The issue's promise, end to end: recommendations accepted from history, then an import that
crosses 80 % and then 100 % sends exactly two emails and two in-app notices, through a retried
check, a replayed file and two imports at once."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from budgets import tasks
from budgets.selectors import current_month
from notifications.models import Notification
from transactions.services import file_import

HEADER = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>{day}120000<LANGUAGE>ENG
</SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>000987654321<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>{day}000000<DTEND>{day}235959
"""
LINE = "<STMTTRN><TRNTYPE>POS<DTPOSTED>{day}120000<TRNAMT>{amount}<FITID>{fitid}<NAME>{name}</STMTTRN>\n"
FOOTER = (
    "</BANKTRANLIST><LEDGERBAL><BALAMT>100.00<DTASOF>{day}235959</LEDGERBAL>"
    "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
)


def ofx(*lines: tuple[dt.date, str, str]) -> bytes:
    """An OFX 1.x statement of (posted day, amount, FITID) grocery lines."""
    last = max(day for day, _, _ in lines).strftime("%Y%m%d")
    body = "".join(
        LINE.format(day=day.strftime("%Y%m%d"), amount=amount, fitid=fitid, name="WHOLE FOODS MKT #10234")
        for day, amount, fitid in lines
    )
    return (HEADER.format(day=last) + body + FOOTER.format(day=last)).encode("ascii")


def months_ago(count: int) -> dt.date:
    index = current_month().year * 12 + current_month().month - 1 - count
    return dt.date(index // 12, index % 12 + 1, 12)


def budget_notices(user):
    return list(Notification.objects.filter(user=user, kind__startswith="budget.").values_list("kind", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_emails_and_two_notices_whatever_happens_in_between(user, mailoutbox):
    client = APIClient()
    client.force_authenticate(user)
    history = [
        (months_ago(ago), amount, f"h{ago}")
        for ago, amount in [(4, "-95.00"), (3, "-100.00"), (2, "-96.00"), (1, "-500.00")]
    ]
    file_import(user=user, account_name="Checking", raw=ofx(*history), filename="history.ofx")

    [food] = client.get("/api/v1/budgets/recommendations/").json()["results"]
    assert (food["category"], food["amount"], food["rule"]) == ("food", "100.00", "history")  # the $500 month ignored
    assert food["reason"]
    client.post("/api/v1/budgets/recommendations/accept/", {}, format="json")

    today = timezone.localdate()
    approaching = ofx((today, "-85.00", "a"))
    file_import(user=user, account_name="Checking", raw=approaching, filename="a.ofx")  # 85 %
    file_import(user=user, account_name="Checking", raw=approaching, filename="a-again.ofx")  # the same file, replayed
    tasks.spending_changed(user.pk, [current_month().isoformat()])  # a retried check
    assert budget_notices(user) == ["budget.approaching"]
    assert len(mailoutbox) == 1

    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def import_at_once(fitid: str) -> None:
        try:
            start.wait()
            file_import(user=user, account_name="Checking", raw=ofx((today, "-10.00", fitid)), filename=f"{fitid}.ofx")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=import_at_once, args=(fitid,)) for fitid in ("b", "c")]  # 95 %, then 105 %
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    tasks.spending_changed(user.pk, [current_month().isoformat()])

    assert sorted(budget_notices(user)) == ["budget.approaching", "budget.exceeded"]
    assert [message.subject for message in mailoutbox] == [
        "You're close to your Food budget",
        "You've gone over your Food budget",
    ]
    assert client.get("/api/v1/spending/current").json()["total"] == "105.00"
