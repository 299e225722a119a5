"""File import through the pipeline: dedupe, categorization, aggregates, atomicity."""

import datetime as dt
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from accounts.models import Account
from categories.models import Category, CategorySource
from transactions import services
from transactions.models import MonthlySpending, RawPayload, Transaction
from transactions.selectors import month_spending_from_db

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
OCTOBER = dt.date(2026, 10, 1)
OCTOBER_SPENDING = {
    "housing/rent": Decimal("1950.00"),
    "food/groceries": Decimal("84.27"),
    "transport/gas": Decimal("48.10"),
    "shopping/general": Decimal("40.00"),  # 62.40 bought, 22.40 refunded
    "transport/rideshare": Decimal("23.80"),  # 22:30 at -5:00 on the 31st stays in October
    "food/coffee": Decimal("5.75"),
}


def import_sample(user, django_capture_on_commit_callbacks, name="checking_2026-10.ofx"):
    with django_capture_on_commit_callbacks(execute=True):
        return services.file_import(user=user, account_name="Checking", raw=(DATA / name).read_bytes(), filename=name)


def test_import_categorizes_and_aggregates_by_posted_month(user, django_capture_on_commit_callbacks):
    result = import_sample(user, django_capture_on_commit_callbacks)

    assert (result.new, result.existing) == (9, 0)
    october = month_spending_from_db(user_id=user.pk, month=OCTOBER)
    assert october.categories == OCTOBER_SPENDING
    assert october.total == Decimal("2151.92")
    assert october.txn_count == 7
    assert october.income == Decimal("3150.00")
    assert month_spending_from_db(user_id=user.pk, month=dt.date(2026, 11, 1)).total == 0
    transfer = Transaction.objects.get(description="CHASE CREDIT CRD AUTOPAY")
    assert transfer.category.path == "transfer/credit-card-payment"
    account = Account.objects.get(user=user, name="Checking")
    assert account.balance == Decimal("4711.35")


def test_importing_the_same_file_twice_changes_no_total(user, django_capture_on_commit_callbacks):
    import_sample(user, django_capture_on_commit_callbacks)
    before = list(MonthlySpending.objects.values_list("month", "category_id", "amount", "txn_count"))

    again = import_sample(user, django_capture_on_commit_callbacks)

    assert (again.new, again.existing) == (0, 9)
    assert list(MonthlySpending.objects.values_list("month", "category_id", "amount", "txn_count")) == before
    assert Transaction.objects.count() == 9
    assert RawPayload.objects.filter(user=user).count() == 2  # every payload is kept for replay


def test_raw_payload_is_stored_before_parsing(user, django_capture_on_commit_callbacks):
    import_sample(user, django_capture_on_commit_callbacks)
    payload = RawPayload.objects.get(user=user)
    with payload.file.open("rb") as stored:
        assert stored.read() == (DATA / "checking_2026-10.ofx").read_bytes()
    assert (payload.status, payload.rows_new, payload.rows_existing) == ("imported", 9, 0)


def test_a_broken_file_writes_nothing_and_says_why(user):
    with pytest.raises(ValidationError, match="Not a valid OFX document"):
        services.file_import(user=user, account_name="Checking", raw=b"<OFX>garbage", filename="x.ofx")
    assert not Account.objects.filter(user=user).exists()
    assert not Transaction.objects.exists()
    assert RawPayload.objects.get(user=user).status == RawPayload.Status.FAILED


def test_unsupported_extension_is_refused(user):
    with pytest.raises(ValidationError, match="Unsupported file type"):
        services.file_import(user=user, account_name="Checking", raw=b"a,b", filename="x.xlsx")


def test_rows_and_aggregates_commit_together(user, monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("database went away mid-import")

    monkeypatch.setattr(services, "monthly_spending_apply", fail)
    with pytest.raises(RuntimeError):
        services.file_import(
            user=user, account_name="Checking", raw=(DATA / "checking_2026-10.ofx").read_bytes(), filename="c.ofx"
        )
    assert not Transaction.objects.exists()
    assert not MonthlySpending.objects.exists()
    assert not Account.objects.filter(user=user).exists()


def test_manual_category_moves_the_amount_and_sticks(user, django_capture_on_commit_callbacks):
    import_sample(user, django_capture_on_commit_callbacks)
    coffee = Transaction.objects.get(description="SQ *BLUE BOTTLE COFFE")
    dining = Category.objects.get(path="food/dining")

    with django_capture_on_commit_callbacks(execute=True):
        services.transaction_recategorize(txn=coffee, category=dining)

    october = month_spending_from_db(user_id=user.pk, month=OCTOBER)
    assert "food/coffee" not in october.categories
    assert october.categories["food/dining"] == Decimal("5.75")
    assert october.total == Decimal("2151.92")
    coffee.refresh_from_db()
    assert coffee.category_source == CategorySource.MANUAL

    import_sample(user, django_capture_on_commit_callbacks)  # a re-import does not undo the choice
    coffee.refresh_from_db()
    assert coffee.category == dining


def test_import_command_reports_new_and_existing(user):
    out = StringIO()
    path = str(DATA / "checking_2026-10.ofx")
    call_command("import_transactions", "--user", user.username, "--account", "Checking", path, stdout=out)
    call_command("import_transactions", "--user", user.username, "--account", "Checking", path, stdout=out)
    assert out.getvalue().splitlines() == ["9 new, 0 already imported", "0 new, 9 already imported"]


def test_import_command_errors_are_clear(user, tmp_path):
    bad = tmp_path / "bad.ofx"
    bad.write_bytes(b"nope")
    with pytest.raises(CommandError, match="Not a valid OFX document"):
        call_command("import_transactions", "--user", user.username, "--account", "Checking", str(bad))
    with pytest.raises(CommandError, match="No user"):
        call_command("import_transactions", "--user", "nobody", "--account", "Checking", str(bad))
