"""The transactions table partitioned by posted month (PostgreSQL), and the key table that dedupes it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.providers.base import AccountRef, Statement, StatementLine
from accounts.tests.factories import AccountFactory
from transactions.bulk import statements_ingest_bulk
from transactions.models import MonthlySpending, Transaction, TransactionKey
from transactions.partitions import (
    DEFAULT_PARTITION,
    month_add,
    partition_name,
    table_is_partitioned,
    transaction_partitions_ensure,
)
from transactions.services import account_history_delete, statements_ingest, user_history_delete
from transactions.tests.factories import TransactionFactory

pytestmark = pytest.mark.django_db

only_postgresql = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="only PostgreSQL partitions the table; on SQLite it is plain"
)


def _statement(account, *lines: StatementLine) -> Statement:
    return Statement(account=AccountRef(account.external_id, account.kind), currency="USD", lines=lines)


def _ingest(path: str, account, *lines: StatementLine):
    if path == "bulk":
        return statements_ingest_bulk(batch={account.user_id: [(account, _statement(account, *lines))]})[
            account.user_id
        ]
    return statements_ingest(user_id=account.user_id, statements=[(account, _statement(account, *lines))])


def _partition_of(txn: Transaction) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM transactions_transaction WHERE id = %s", [txn.pk])
        return cursor.fetchone()[0]


def _totals(user_id: int) -> dict[dt.date, tuple[Decimal, int]]:
    rows = (
        MonthlySpending.objects.filter(user_id=user_id).values_list("month").annotate(Sum("amount"), Sum("txn_count"))
    )
    return {month: (amount, count) for month, amount, count in rows if count}


def _by_month() -> tuple[list, list]:
    """Every row's id, month and amount, and the count and sum per month."""
    rows = Transaction.objects.annotate(posted_month=TruncMonth("posted_on"))
    return (
        sorted(rows.values_list("pk", "posted_month", "amount")),
        sorted(rows.values_list("posted_month").annotate(Count("pk"), Sum("amount"))),
    )


@only_postgresql
def test_the_table_is_partitioned_and_a_row_lands_in_its_months_partition():
    transaction_partitions_ensure()  # a reused test database may predate this month
    today = timezone.localdate()
    recent = TransactionFactory.create(posted_on=today)
    old = TransactionFactory.create(posted_on=dt.date(2019, 6, 2))  # years before any partition
    assert table_is_partitioned()
    assert _partition_of(recent) == partition_name(today.replace(day=1))
    assert _partition_of(old) == DEFAULT_PARTITION


@only_postgresql
def test_the_task_creates_the_months_ahead_once():
    far = dt.date(2031, 1, 10)
    first = transaction_partitions_ensure(months_ahead=3, today=far)
    again = transaction_partitions_ensure(months_ahead=3, today=far)
    assert first.created == [partition_name(month_add(dt.date(2031, 1, 1), ahead)) for ahead in range(4)]
    assert again.created == []
    row = TransactionFactory.create(posted_on=dt.date(2031, 4, 30))
    assert _partition_of(row) == "transactions_transaction_p2031_04"


@only_postgresql
def test_the_task_moves_a_months_rows_out_of_the_default_keeping_ids_and_totals():
    may = [TransactionFactory.create(posted_on=dt.date(2024, 5, day), amount=Decimal(f"-{day}.25")) for day in (3, 31)]
    july = TransactionFactory.create(posted_on=dt.date(2024, 7, 1))
    september = TransactionFactory.create(posted_on=dt.date(2024, 9, 9))
    before = _by_month()

    report = transaction_partitions_ensure()

    assert report.moved == {
        "transactions_transaction_p2024_05": 2,
        "transactions_transaction_p2024_07": 1,
        "transactions_transaction_p2024_09": 1,
    }
    assert [_partition_of(txn) for txn in may] == ["transactions_transaction_p2024_05"] * 2
    assert _partition_of(july) == "transactions_transaction_p2024_07"
    assert _partition_of(september) == "transactions_transaction_p2024_09"
    assert _by_month() == before
    assert Transaction.objects.get(pk=may[1].pk).amount == Decimal("-31.25")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT_PARTITION}")  # noqa: S608
        assert cursor.fetchone()[0] == 0
    assert transaction_partitions_ensure().created == []


def test_the_task_does_nothing_on_a_plain_table():
    if connection.vendor == "postgresql":
        pytest.skip("the table is partitioned on PostgreSQL")
    TransactionFactory.create(posted_on=dt.date(2019, 6, 2))
    report = transaction_partitions_ensure()
    assert (report.created, report.moved) == ([], {})


@pytest.mark.parametrize("path", ["statements_ingest", "bulk"])
def test_a_pending_line_posted_a_month_later_is_stored_once(path):
    account = AccountFactory.create()
    today = timezone.localdate()
    held = today.replace(day=28)  # this month, then the next: both have partitions ahead
    posted = month_add(today.replace(day=1), 1) + dt.timedelta(days=2)
    transaction_partitions_ensure()  # a reused test database may predate this month
    _ingest(path, account, StatementLine("H1", held, Decimal("-80.00"), "SHELL OIL 12", pending=True))
    (row_id,) = Transaction.objects.filter(account=account).values_list("pk", flat=True)

    result = _ingest(path, account, StatementLine("H1", posted, Decimal("-62.40"), "SHELL OIL 12"))

    assert (result.new, result.updated) == (0, 1)
    row = Transaction.objects.get(account=account)
    assert (row.pk, row.posted_on, row.amount, row.pending) == (row_id, posted, Decimal("-62.40"), False)
    assert TransactionKey.objects.filter(account=account).count() == 1
    assert _totals(account.user_id) == {posted.replace(day=1): (Decimal("-62.40"), 1)}
    if connection.vendor == "postgresql":
        assert _partition_of(row) == partition_name(posted.replace(day=1))


@pytest.mark.parametrize("path", ["statements_ingest", "bulk"])
def test_a_posted_line_sent_again_with_another_date_is_not_stored_twice(path):
    account = AccountFactory.create()
    _ingest(path, account, StatementLine("P1", dt.date(2026, 9, 30), Decimal("-15.00"), "NETFLIX.COM"))

    result = _ingest(path, account, StatementLine("P1", dt.date(2026, 10, 30), Decimal("-15.00"), "NETFLIX.COM"))

    assert (result.new, result.existing) == (0, 1)
    assert Transaction.objects.filter(account=account).count() == 1
    assert _totals(account.user_id) == {dt.date(2026, 9, 1): (Decimal("-15.00"), 1)}


@pytest.mark.parametrize("path", ["statements_ingest", "bulk"])
def test_a_factory_row_is_found_by_ingestion(path):
    txn = TransactionFactory.create(external_id="F1", posted_on=dt.date(2026, 3, 14))

    result = _ingest(path, txn.account, StatementLine("F1", dt.date(2026, 3, 16), Decimal("-12.50"), "CORNER GROCERY"))

    assert (result.new, result.existing) == (0, 1)
    assert Transaction.objects.filter(account=txn.account).count() == 1


def test_deleting_an_accounts_history_deletes_its_keys_so_a_reimport_adds_the_rows_again():
    account = AccountFactory.create()
    lines = [StatementLine(f"D{n}", dt.date(2026, 5, n), Decimal("-10.00"), "CORNER GROCERY") for n in (1, 2)]
    _ingest("statements_ingest", account, *lines)

    account_history_delete(account=account)

    assert not TransactionKey.objects.filter(account=account).exists()
    assert _ingest("statements_ingest", account, *lines).new == 2
    assert _totals(account.user_id) == {dt.date(2026, 5, 1): (Decimal("-20.00"), 2)}


def test_deleting_a_users_history_or_account_deletes_the_keys():
    account = AccountFactory.create()
    other = AccountFactory.create(user=account.user)
    TransactionFactory.create(account=account)
    TransactionFactory.create(account=other)

    user_history_delete(user_id=account.user_id)
    assert not TransactionKey.objects.exists()
    assert _ingest("bulk", account, StatementLine("K1", dt.date(2026, 5, 1), Decimal("-1.00"), "X")).new == 1

    account.delete()
    assert not TransactionKey.objects.exists()


def test_a_pending_row_the_bank_no_longer_lists_loses_its_key():
    account = AccountFactory.create()
    day = dt.date(2026, 6, 10)
    statements_ingest(
        user_id=account.user_id,
        statements=[(account, _statement(account, StatementLine("V1", day, Decimal("-30.00"), "HOTEL", pending=True)))],
    )

    result = statements_ingest(
        user_id=account.user_id, statements=[(account, _statement(account))], window=(day, day + dt.timedelta(days=5))
    )

    assert result.updated == 1
    assert not TransactionKey.objects.filter(account=account).exists()
    assert _ingest("statements_ingest", account, StatementLine("V1", day, Decimal("-30.00"), "HOTEL")).new == 1
