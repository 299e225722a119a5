"""An import killed halfway leaves nothing behind, and the retry imports everything once."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import Account
from transactions import services
from transactions.models import MonthlySpending, Transaction

SCRIPT = Path(__file__).parent / "scripts" / "import_then_die.py"
ROWS = 5000


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


@pytest.fixture
def big_csv(tmp_path) -> Path:
    lines = ["Date,Description,Amount"]
    for n in range(ROWS):
        lines.append(f"2026-{n % 10 + 1:02d}-{n % 28 + 1:02d},STORE {n % 97} PURCHASE,-{n % 500 + 1}.{n % 100:02d}")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.django_db(transaction=True)
def test_a_killed_import_writes_nothing_and_the_retry_imports_everything_once(
    user, big_csv, django_capture_on_commit_callbacks
):
    died = subprocess.run(  # noqa: S603  (our own script)
        [sys.executable, str(SCRIPT), user.username, "Checking", str(big_csv)],
        env={**os.environ, "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert died.returncode == -signal.SIGKILL, died.stderr
    assert f"rows written, not committed: {ROWS}" in died.stdout  # it died halfway, rows in hand
    assert not Transaction.objects.exists()
    assert not MonthlySpending.objects.exists()
    assert not Account.objects.filter(user=user).exists()

    with django_capture_on_commit_callbacks(execute=True):
        retry = services.file_import(user=user, account_name="Checking", raw=big_csv.read_bytes(), filename="big.csv")
        again = services.file_import(user=user, account_name="Checking", raw=big_csv.read_bytes(), filename="big.csv")

    assert (retry.new, again.new, again.existing) == (ROWS, 0, ROWS)
    assert Transaction.objects.count() == ROWS
    assert sum(MonthlySpending.objects.values_list("txn_count", flat=True)) == ROWS
