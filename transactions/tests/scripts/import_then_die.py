"""Import a statement file and SIGKILL this process once the rows are written, before the commit.

Run by test_killed_import.py against the test database: it stands for a worker that dies
(out of memory, a node lost) halfway through one import.
Usage: import_then_die.py USERNAME ACCOUNT_NAME FILE
"""

import os
import signal
import sys
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mint.settings_test")
django.setup()

from mint.models import User  # noqa: E402
from transactions import bulk, services  # noqa: E402
from transactions.models import Transaction  # noqa: E402


def die_after_the_rows_are_written(*args, **kwargs):
    rows = Transaction.objects.filter(account__name=sys.argv[2]).count()
    print(f"rows written, not committed: {rows}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


services.monthly_spending_apply = die_after_the_rows_are_written
# A large file goes through the bulk path: there the rows and their totals are one statement,
# and this is the next step before the commit.
bulk.after_spending_change_many = die_after_the_rows_are_written
user = User.objects.get(username=sys.argv[1])
services.file_import(user=user, account_name=sys.argv[2], raw=Path(sys.argv[3]).read_bytes(), filename=sys.argv[3])
