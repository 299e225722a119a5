"""monthly_spending kept by deltas: deletion of an account's history, rebuild_spending and check_spending."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Model

from accounts.tests.factories import AccountFactory, ConnectionFactory
from mint.tests.factories import UserFactory
from transactions.models import MonthlySpending, Transaction
from transactions.selectors import month_spending_from_db
from transactions.services import account_history_delete

pytestmark = pytest.mark.django_db
OCT, NOV = dt.date(2026, 10, 1), dt.date(2026, 11, 1)


@pytest.fixture
def account(user):
    return AccountFactory.create(user=user)


def check_spending(*args: str) -> str:
    out = StringIO()
    call_command("check_spending", *args, stdout=out)
    return out.getvalue()


def test_refunds_lower_their_category_income_is_kept_and_transfers_are_not_spending(user, account, ingest):
    ingest(
        account,
        (dt.date(2026, 10, 3), "-120.00", "TARGET T-1234 MINNEAPOLIS MN"),
        (dt.date(2026, 10, 9), "20.00", "TARGET T-1234 MINNEAPOLIS MN", "refund"),
        (dt.date(2026, 10, 15), "2850.00", "ACME CORP PAYROLL PPD"),
        (dt.date(2026, 10, 20), "-400.00", "CHASE CREDIT CRD AUTOPAY"),
        (dt.date(2026, 10, 31), "-9.99", "NETFLIX.COM"),
        (dt.date(2026, 11, 1), "-5.00", "NETFLIX.COM", "next-month"),
    )
    october = month_spending_from_db(user_id=user.pk, month=OCT)
    assert october.categories == {"shopping/general": Decimal("100.00"), "entertainment/streaming": Decimal("9.99")}
    assert october.total == Decimal("109.99")
    assert october.income == Decimal("2850.00")
    assert month_spending_from_db(user_id=user.pk, month=NOV).total == Decimal("5.00")


def test_deleting_an_accounts_history_takes_it_off_the_totals(user, account, ingest):
    other = AccountFactory.create(user=user)
    ingest(account, (dt.date(2026, 10, 3), "-84.27", "WHOLE FOODS MKT #10234"))
    ingest(other, (dt.date(2026, 10, 4), "-15.73", "WHOLE FOODS MKT #10234"))

    assert account_history_delete(account=account) == 1

    assert not Transaction.objects.filter(account=account).exists()
    assert month_spending_from_db(user_id=user.pk, month=OCT).categories == {"food/groceries": Decimal("15.73")}


@pytest.mark.parametrize("deleted", ["account", "connection", "user"])
def test_every_deletion_path_keeps_totals_right(deleted, ingest):
    connection = ConnectionFactory.create()
    linked = AccountFactory.create(user=connection.user, connection=connection)
    kept = AccountFactory.create(user=connection.user)
    ingest(linked, (dt.date(2026, 10, 3), "-84.27", "WHOLE FOODS MKT #10234"))
    ingest(kept, (dt.date(2026, 10, 5), "-10.00", "WHOLE FOODS MKT #10234"))

    doomed: dict[str, Model] = {"account": linked, "connection": connection, "user": connection.user}
    doomed[deleted].delete()

    remaining = month_spending_from_db(user_id=connection.user_id, month=OCT).categories
    assert remaining == ({} if deleted == "user" else {"food/groceries": Decimal("10.00")})


def test_check_spending_finds_drift_and_rebuild_repairs_it(user, account, ingest):
    bystander = AccountFactory.create(user=UserFactory.create())
    ingest(
        account,
        (dt.date(2026, 10, 3), "-84.27", "WHOLE FOODS MKT #10234"),
        (dt.date(2026, 11, 3), "-5.00", "NETFLIX.COM"),
    )
    ingest(bystander, (dt.date(2026, 10, 3), "-1.00", "WHOLE FOODS MKT #10234"))
    assert "No drift" in check_spending()

    MonthlySpending.objects.filter(user=user, month=OCT).update(amount=Decimal("-84.26"))
    MonthlySpending.objects.filter(user=user, month=NOV).delete()
    with pytest.raises(CommandError, match="2 aggregate rows differ"):
        check_spending()

    call_command("rebuild_spending", "--user", user.username, "--month", "2026-10", stdout=StringIO())
    with pytest.raises(CommandError, match="1 aggregate rows differ"):
        check_spending("--user", user.username)
    call_command("rebuild_spending", stdout=StringIO())
    assert "No drift" in check_spending()
    assert month_spending_from_db(user_id=user.pk, month=OCT).total == Decimal("84.27")
    assert month_spending_from_db(user_id=bystander.user_id, month=OCT).total == Decimal("1.00")


def test_check_spending_says_what_differs(user, account, ingest):
    ingest(account, (dt.date(2026, 10, 3), "-84.27", "WHOLE FOODS MKT #10234"))
    MonthlySpending.objects.filter(user=user).update(txn_count=2)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("check_spending", stdout=out)
    assert out.getvalue() == (
        f"user {user.pk} 2026-10 food/groceries: monthly_spending has -84.27 in 2 transactions, "
        "the transactions sum to -84.27 in 1\n"
    )
    call_command("rebuild_spending", "--month", "2026-10", stdout=StringIO())


def test_rebuild_writes_one_row_per_user_month_category(user, account, ingest):
    ingest(
        account,
        (dt.date(2026, 10, 3), "-84.27", "WHOLE FOODS MKT #10234"),
        (dt.date(2026, 10, 9), "-15.73", "WHOLE FOODS MKT #10234"),
        (dt.date(2026, 11, 3), "-5.00", "NETFLIX.COM"),
    )
    out = StringIO()
    call_command("rebuild_spending", stdout=out)
    assert "Rebuilt 2 aggregate rows" in out.getvalue()
    assert MonthlySpending.objects.get(user=user, month=OCT).txn_count == 2


def test_rebuild_repairs_changed_missing_and_stale_rows_and_leaves_agreeing_ones(user, account, ingest):
    ingest(
        account,
        (dt.date(2026, 10, 3), "-84.27", "WHOLE FOODS MKT #10234"),
        (dt.date(2026, 10, 4), "-5.00", "NETFLIX.COM"),
        (dt.date(2026, 11, 3), "-5.00", "NETFLIX.COM"),
    )
    netflix_oct = MonthlySpending.objects.get(user=user, month=OCT, amount=Decimal("-5.00"))
    agreeing_since = netflix_oct.updated_at
    MonthlySpending.objects.filter(user=user, month=OCT, amount=Decimal("-84.27")).update(txn_count=3)  # changed
    MonthlySpending.objects.filter(user=user, month=NOV).delete()  # missing
    MonthlySpending.objects.bulk_create(  # rows the transactions do not have, in the month rebuilt and another
        MonthlySpending(
            user=user,
            month=month,
            category_id=netflix_oct.category_id,
            amount=1,
            txn_count=1,
            updated_at=agreeing_since,
        )
        for month in (dt.date(2026, 9, 1), dt.date(2026, 12, 1))
    )

    call_command("rebuild_spending", "--month", "2026-12", stdout=StringIO())  # only December's stale rows go
    assert not MonthlySpending.objects.filter(user=user, month=dt.date(2026, 12, 1)).exists()
    assert MonthlySpending.objects.filter(user=user, month=dt.date(2026, 9, 1)).exists()

    out = StringIO()
    call_command("rebuild_spending", stdout=out)
    assert "Rebuilt 3 aggregate rows" in out.getvalue()
    assert "No drift" in check_spending()
    assert MonthlySpending.objects.filter(user=user).count() == 3
    if connection.vendor == "postgresql":  # elsewhere the rebuild replaces every row
        assert MonthlySpending.objects.get(pk=netflix_oct.pk).updated_at == agreeing_since


def test_unknown_user_or_bad_month_is_a_clear_error():
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("rebuild_spending", "--user", "nobody")
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("check_spending", "--month", "2026-13")
