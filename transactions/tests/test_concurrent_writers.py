"""Writers of the same user's totals at the same moment, in real concurrent transactions (PostgreSQL)."""

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from categories.models import Category
from transactions import services as txn_services
from transactions.aggregates import spending_drift
from transactions.models import MonthlySpending, Transaction

pytestmark = pytest.mark.django_db(transaction=True)


def test_deleting_an_account_while_its_transaction_is_recategorized_leaves_no_drift(user, ingest, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; this race needs PostgreSQL (CI's second run)")
    account = AccountFactory.create(user=user)
    today = timezone.localdate()
    ingest(account, (today, "-50.00", "WHOLE FOODS MKT #10234", "a"))
    txn = Transaction.objects.get()
    dining = Category.objects.get(path="food/dining")

    has_lock, go = threading.Event(), threading.Event()
    real = txn_services.after_spending_change

    def pausing(user_id, months):
        if threading.current_thread().name == "recategorize":
            has_lock.set()  # the row is moved and the spending lock held; not committed yet
            go.wait(5)
            time.sleep(1)  # let the deletion read its deltas and queue on the spending lock
        return real(user_id, months)

    monkeypatch.setattr(txn_services, "after_spending_change", pausing)
    errors = []

    def recategorize():
        try:
            txn_services.transaction_recategorize(txn=txn, category=dining)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=recategorize, name="recategorize")
    thread.start()
    has_lock.wait(5)
    go.set()
    txn_services.account_history_delete(account=account)  # or the admin deleting the account
    thread.join()
    assert errors == []
    assert not Transaction.objects.exists()
    rows = list(MonthlySpending.objects.values_list("category__path", "amount", "txn_count"))
    assert spending_drift(user_ids=[user.pk]) == [], rows
