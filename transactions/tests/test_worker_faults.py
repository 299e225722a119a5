"""A django-q2 worker SIGKILLed mid-import: after redelivery every row is there once, and the totals match.

Real parts: a `manage.py qcluster` process on the ORM broker, a loopback OFX server answering a
10,000-transaction statement, and PostgreSQL. The worker is killed at about 10 %, 50 % and 90 %
of the import's measured duration; the redelivered task takes the job over once its lease ends.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection as db
from django.db.models import Count, Sum
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import Account, SyncJob
from accounts.tests.factories import ConnectionFactory
from accounts.tests.ofx_servers import ACCOUNT_ID, BANK_ID, ofx_server, server_url, statement
from mint.tests.factories import UserFactory
from transactions.aggregates import spending_drift
from transactions.models import MonthlySpending, Transaction

ROWS = 10_000
# The worker's task timeout (the job lease) and the broker's redelivery, short for the test.
TIMEOUT, RETRY = 20, 24
BASE_DIR = Path(settings.BASE_DIR)

pytestmark = [
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="needs PostgreSQL: a worker process and the test share the database",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def big_bank() -> Iterator[str]:
    """Every request answered with the same 10,000-row statement."""
    server = ofx_server(statement(ROWS))
    yield server_url(server)
    server.shutdown()
    server.server_close()


def linked_connection(bank_url: str):
    connection = ConnectionFactory.create(user=UserFactory.create(), url=bank_url, history_from=dt.date(2020, 1, 1))
    Account.objects.create(
        user=connection.user,
        connection=connection,
        name="Checking",
        external_id=ACCOUNT_ID,
        bank_id=BANK_ID,
        external_type="CHECKING",
    )
    return connection


def cluster(timeout: int = TIMEOUT, retry: int = RETRY, workers: int = 1) -> subprocess.Popen:
    database = db.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "TASKS_SYNC": "0",
        "TASK_WORKERS": str(workers),
        "TASK_TIMEOUT": str(timeout),
        "TASK_RETRY": str(retry),
    }
    return subprocess.Popen(  # noqa: S603  (our own manage.py)
        [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"],
        env=env,
        cwd=BASE_DIR,
        process_group=0,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def job_status(job: SyncJob) -> str:
    return SyncJob.objects.values_list("status", flat=True).get(pk=job.pk)


@pytest.fixture(scope="module")
def import_seconds(big_bank, django_db_setup, django_db_blocker) -> float:
    """How long one import of the statement takes a worker here: the kill points scale with it."""
    with django_db_blocker.unblock():
        connection = linked_connection(big_bank)
        job = SyncJob.objects.create(connection=connection, user=connection.user, trigger=SyncJob.Trigger.MANUAL)
        async_task("transactions.tasks.sync_job_run", job.pk, sync=False)
        workers = cluster()
        try:
            wait_for(lambda: job_status(job) == SyncJob.Status.DONE, 60, "the measured import")
        finally:
            kill(workers)
        job.refresh_from_db()
        assert job.started_at is not None
        assert job.finished_at is not None
        seconds = (job.finished_at - job.started_at).total_seconds()
        connection.user.delete()
    return seconds


def killed_while_running(bank_url: str, delay: float):
    """A job started by a worker that is killed `delay` seconds later: (connection, job, still running?)."""
    connection = linked_connection(bank_url)
    job = SyncJob.objects.create(connection=connection, user=connection.user, trigger=SyncJob.Trigger.DAILY)
    async_task("transactions.tasks.sync_job_run", job.pk, sync=False)
    workers = cluster()
    try:
        wait_for(lambda: job_status(job) == SyncJob.Status.RUNNING, 30, "the worker to start the job")
        time.sleep(delay)
    finally:
        kill(workers)
    return connection, job, job_status(job) == SyncJob.Status.RUNNING


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_a_worker_killed_mid_import_loses_and_doubles_nothing(big_bank, import_seconds, share):
    # A worker's pace varies from run to run: if the job finished before the kill, try a little earlier.
    delay = share * import_seconds
    for _ in range(4):
        connection, job, running = killed_while_running(big_bank, delay)
        if running:
            break
        delay *= 0.85
    assert running, "every job finished before its kill; the test proves nothing"
    # One import is one transaction: all of it or none. (A COMMIT already sent when the worker
    # died still completes in the server, so look once it has had the time to.)
    time.sleep(0.5)
    assert Transaction.objects.filter(user=connection.user).count() in (0, ROWS)

    second = cluster()
    try:
        wait_for(lambda: job_status(job) == SyncJob.Status.DONE, TIMEOUT + RETRY + 60, "the redelivered job to finish")
    finally:
        kill(second)

    rows = Transaction.objects.filter(user=connection.user)
    assert rows.count() == ROWS
    assert not rows.values("external_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert spending_drift(user_ids=[connection.user_id]) == []
    stored = MonthlySpending.objects.filter(user=connection.user).aggregate(total=Sum("amount"))["total"]
    assert stored == rows.aggregate(total=Sum("amount"))["total"] < Decimal("0")
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.rows_new in (0, ROWS)  # 0: the first run had committed just before it died
    assert job.finished_at is not None
    assert job.finished_at <= timezone.now()


def test_a_job_that_kills_its_worker_every_time_is_given_up_after_three_attempts():
    """A bank (or a payload) that makes every attempt die: django-q2's timeout kills the worker each
    time and the broker redelivers; the job's own count of unfinished starts stops it, pauses the
    connection, and the other connection's job is served meanwhile."""
    hanging = ofx_server(statement(10), delay=60)
    healthy = ofx_server(statement(10))
    try:
        doomed = linked_connection(server_url(hanging))
        fine = linked_connection(server_url(healthy))
        doomed_job = SyncJob.objects.create(connection=doomed, user=doomed.user, trigger=SyncJob.Trigger.DAILY)
        fine_job = SyncJob.objects.create(connection=fine, user=fine.user, trigger=SyncJob.Trigger.DAILY)
        async_task("transactions.tasks.sync_job_run", doomed_job.pk, sync=False)
        async_task("transactions.tasks.sync_job_run", fine_job.pk, sync=False)

        workers = cluster(timeout=3, retry=5, workers=2)
        try:
            wait_for(lambda: job_status(doomed_job) == SyncJob.Status.FAILED, 90, "the job to be given up")
            wait_for(lambda: job_status(fine_job) == SyncJob.Status.DONE, 30, "the other job")
        finally:
            kill(workers)
    finally:
        for server in (hanging, healthy):
            server.shutdown()
            server.server_close()

    doomed_job.refresh_from_db()
    doomed.refresh_from_db()
    assert doomed_job.attempts == settings.SYNC_MAX_ATTEMPTS + 1  # three that died, the fourth gives up
    assert doomed.status == "needs-attention"
    assert "keeps failing" in doomed.last_error
    assert not Transaction.objects.filter(user=doomed.user).exists()
    assert Transaction.objects.filter(user=fine.user).count() == 10


def test_two_deliveries_of_one_refresh_at_once_import_once(big_bank):
    """A redelivery while the first run still works: the second finds the job running and comes
    back later instead of running it again, or acknowledging the first one's queue entry away."""
    connection = linked_connection(big_bank)
    job = SyncJob.objects.create(connection=connection, user=connection.user, trigger=SyncJob.Trigger.MANUAL)
    async_task("transactions.tasks.sync_job_run", job.pk, sync=False)
    async_task("transactions.tasks.sync_job_run", job.pk, sync=False)

    workers = cluster(workers=2)
    try:
        wait_for(lambda: job_status(job) == SyncJob.Status.DONE, 60, "the job to finish")
    finally:
        kill(workers)

    job.refresh_from_db()
    assert job.attempts == 1
    assert Transaction.objects.filter(user=connection.user).count() == ROWS
    assert spending_drift(user_ids=[connection.user_id]) == []
