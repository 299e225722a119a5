"""A budget alert's email, with the process that handles it SIGKILLed at each point: none is
missed, and no second copy goes out except where none can be ruled out, and then it is
recognisably the same message.

Real parts: django-q2 `manage.py qcluster` processes on the ORM broker (PostgreSQL), Django's
SMTP backend talking to a loopback SMTP server (`notifications/tests/smtp_server.py`), and
SIGKILL. The points, each reached without any hook in the product code:

- the process that decided (recorded the alert and its notice) dies right after its commit,
  before the email task is queued: an on_commit callback registered first kills it;
- the worker dies before its claim: its claim (an UPDATE) waits on a row lock the test holds;
- the worker dies after its claim, before SMTP: the mail server does not greet it;
- the worker dies after the mail server accepted the message, before recording it sent: the
  mail server keeps the message and withholds its "250 OK".
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection as db
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.tasks import async_task

from accounts.providers.base import AccountRef, Statement, StatementLine
from accounts.tests.factories import AccountFactory
from budgets import tasks
from budgets.models import BudgetAlert
from budgets.selectors import current_month
from budgets.services import budget_set
from categories.models import Category
from notifications.models import Notification
from notifications.services import notification_message_id
from notifications.tests.smtp_server import SmtpServer
from transactions.services import statements_ingest

# The task timeout and the broker's redelivery, short for the test (retry > timeout, as in production).
TIMEOUT, RETRY = 4, 6
BASE_DIR = Path(settings.BASE_DIR)

pytestmark = [
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="needs PostgreSQL: worker processes and the test share the database and its task queue",
    ),
    pytest.mark.django_db(transaction=True),
]


def database_url() -> str:
    database = db.settings_dict
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


def process_env(smtp: SmtpServer) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "notifications.tests.settings_smtp",
        "TEST_SMTP_PORT": str(smtp.port),
        "DATABASE_URL": database_url(),
        "TASKS_SYNC": "0",
        "TASK_WORKERS": "1",
        "TASK_TIMEOUT": str(TIMEOUT),
        "TASK_RETRY": str(RETRY),
    }


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture
def cluster() -> Iterator[Callable[[SmtpServer], subprocess.Popen]]:
    """Start a worker cluster sending mail to `smtp`; any left running is killed after the test."""
    started: list[subprocess.Popen] = []

    def start(smtp: SmtpServer) -> subprocess.Popen:
        process = subprocess.Popen(  # noqa: S603  (our own manage.py)
            [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"],
            env=process_env(smtp),
            cwd=BASE_DIR,
            process_group=0,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        kill(process)


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def approaching(user):
    """A user with a $100 groceries budget and $85 spent this month: the "approaching" alert is due.

    From here on tasks go to the broker, as in production, not inline as elsewhere in the tests.
    """
    budget_set(user=user, category=Category.objects.get(path="food/groceries"), amount=Decimal("100"))
    # Only the path under test may send: the redelivery (or the sweep, where a test runs it), not
    # the periodic sweep coming due in the workers by chance and hiding a redelivery that failed.
    Schedule.objects.all().delete()
    Conf.SYNC, sync = False, Conf.SYNC
    try:
        account = AccountFactory.create(user=user)
        line = StatementLine(
            external_id="a", posted_on=timezone.localdate(), amount=Decimal("-85.00"), description="WHOLE FOODS"
        )
        statement = Statement(account=AccountRef(account.external_id, account.kind), currency="USD", lines=(line,))
        statements_ingest(user_id=user.pk, statements=[(account, statement)])  # queues the budget check
        yield user
    finally:
        Conf.SYNC = sync


def decide(user) -> Notification:
    """The budget check, as its task runs it: the alert and its notice recorded, the email task queued."""
    tasks.spending_changed(user.pk, [current_month().isoformat()])
    return Notification.objects.get(user=user)


def status(notice: Notification) -> tuple[str, int]:
    return Notification.objects.values_list("email_status", "email_attempts").get(pk=notice.pk)


def delivered(notice: Notification, smtp: SmtpServer, workers: subprocess.Popen) -> list[str]:
    """Once the notice is recorded sent and the queue holds nothing more: the Message-IDs received."""
    try:
        wait_for(lambda: status(notice)[0] == "sent" and not OrmQ.objects.exists(), RETRY + TIMEOUT + 20, "the email")
    finally:
        kill(workers)
    assert Notification.objects.filter(user=notice.user).count() == 1
    assert BudgetAlert.objects.filter(user=notice.user).count() == 1
    for message in smtp.messages:
        assert message["To"] == notice.user.email
        assert message["Subject"] == "You're close to your Groceries budget"
    return [message["Message-ID"] for message in smtp.messages]


def test_decider_killed_after_its_commit_before_the_email_is_queued(approaching, smtp, cluster):
    code = (
        "import os, signal\n"
        "from django.db import transaction\n"
        "from budgets import tasks\n"
        "from budgets.selectors import current_month\n"
        "with transaction.atomic():\n"
        "    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))  # runs before the enqueue\n"
        f"    tasks.spending_changed({approaching.pk}, [current_month().isoformat()])\n"
    )
    decider = subprocess.run(  # noqa: S603  (our own manage.py)
        [sys.executable, str(BASE_DIR / "manage.py"), "shell", "-c", code],
        env=process_env(smtp),
        cwd=BASE_DIR,
        capture_output=True,
        timeout=60,
    )
    assert decider.returncode == -signal.SIGKILL, decider.stderr.decode()
    notice = Notification.objects.get(user=approaching)
    assert status(notice) == ("pending", 0)
    assert "notifications.tasks.notification_email_send" not in [task.func() for task in OrmQ.objects.all()]

    workers = cluster(smtp)
    # Later, the periodic sweep of held and lost emails runs (every 15 minutes; here, once the
    # notice is older than the queue's redelivery window).
    wait_for(lambda: timezone.now() - notice.created_at > dt.timedelta(seconds=RETRY), RETRY + 5, "the window")
    async_task("notifications.tasks.held_emails_send")
    assert delivered(notice, smtp, workers) == [notification_message_id([notice])]
    assert status(notice) == ("sent", 1)


def test_sender_killed_before_its_claim(approaching, smtp, cluster):
    notice = decide(approaching)
    database = db.settings_dict
    with psycopg.connect(
        host=database["HOST"], port=database["PORT"], user=database["USER"], dbname=database["NAME"]
    ) as lock:
        lock.execute("SELECT 1 FROM notifications_notification WHERE id = %s FOR UPDATE", [notice.pk])
        workers = cluster(smtp)

        def claim_waiting() -> int | None:
            lock.execute("SELECT pg_stat_clear_snapshot()")  # a fresh look inside the lock's transaction
            row = lock.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'UPDATE \"notifications_notification\"%%'"
            ).fetchone()
            return row[0] if row else None

        wait_for(claim_waiting, 30, "the worker to reach its claim")
        backend = claim_waiting()
        kill(workers)
        # The server ends a dead client's session; here at once, so its UPDATE never runs.
        lock.execute("SELECT pg_terminate_backend(%s)", [backend])
        lock.rollback()
    assert status(notice) == ("pending", 0)
    assert smtp.messages == []

    assert delivered(notice, smtp, cluster(smtp)) == [notification_message_id([notice])]
    assert status(notice) == ("sent", 1)


def test_sender_killed_after_its_claim_before_smtp(approaching, smtp, cluster):
    notice = decide(approaching)
    smtp.stall("greeting")
    workers = cluster(smtp)
    wait_for(smtp.stalled.is_set, 30, "the worker to connect to the mail server")
    kill(workers)
    smtp.release.set()
    assert status(notice) == ("sending", 0)  # claimed; nothing handed to the mail server
    assert smtp.messages == []

    assert delivered(notice, smtp, cluster(smtp)) == [notification_message_id([notice])]
    assert status(notice) == ("sent", 1)


def test_sender_killed_after_the_mail_server_accepted_before_recording_it(approaching, smtp, cluster):
    notice = decide(approaching)
    smtp.stall("accepted")
    workers = cluster(smtp)
    wait_for(smtp.stalled.is_set, 30, "the mail server to accept the message")
    kill(workers)
    smtp.release.set()
    assert status(notice) == ("sending", 1)  # handed over: whether it arrived, the sender cannot know
    assert len(smtp.messages) == 1

    # The redelivery cannot tell "accepted" from "lost on the way", so it sends again, as the
    # same message: one Message-ID, which the recipient's mail system shows once.
    ids = delivered(notice, smtp, cluster(smtp))
    assert ids == [notification_message_id([notice])] * 2
    assert status(notice) == ("sent", 2)
    # The same notice in both (only the unsubscribe link's signature carries a time).
    assert all(notice.body in message.get_body(("plain",)).get_content() for message in smtp.messages)
