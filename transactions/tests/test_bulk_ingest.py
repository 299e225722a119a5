"""The bulk ingestion path: the same rows and totals as statements_ingest, idempotent, all or nothing."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import DataError, connection

from accounts.providers.base import AccountRef, Statement, StatementLine
from accounts.tests.factories import AccountFactory
from categories.models import Category, UnmatchedMerchantUser
from categories.services import user_rule_set
from mint.models import User
from mint.tests.factories import UserFactory
from transactions.bulk import statements_ingest_bulk
from transactions.models import MonthlySpending, Transaction
from transactions.selectors import spending_cache_key
from transactions.services import statements_ingest

pytestmark = pytest.mark.django_db

only_postgresql = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="on SQLite statements_ingest_bulk runs statements_ingest itself: nothing to compare",
)

DESCRIPTORS = [
    "STARBUCKS STORE #{n} SEATTLE WA",
    "SQ *BLUE BOTTLE #{n} SAN FRANCISCO CA",
    "WALMART SUPERCENTER #{n}",
    "AMZN Mktp US*2K4L{n}",
    "SHELL OIL {n} HOUSTON TX",
    "ZZQ PIXELWORKS STUDIO {n}",  # nothing recognises it: an unmatched merchant
    "PAYROLL ACME CORP DIRECT DEP",
    "ONLINE TRANSFER TO SAVINGS REF {n}",
    "NETFLIX.COM",
]


def _lines(rng: random.Random, prefix: str, count: int, *, pending_share: float = 0.0) -> list[StatementLine]:
    lines = []
    for index in range(count):
        descriptor = rng.choice(DESCRIPTORS).format(n=rng.randint(1, 9999))
        amount = Decimal(rng.randint(-25000, 4000)) / 100 or Decimal("-1.00")
        lines.append(
            StatementLine(
                external_id=f"{prefix}-{index}",
                posted_on=dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 120)),
                amount=amount,
                description=descriptor,
                mcc=rng.choice(["", "", "5812", "5411"]),
                pending=rng.random() < pending_share,
                category=rng.choice(["", "", "", "transfer/account-transfer"]),
            )
        )
    return lines


def _statement(account, lines, *, balance: Decimal | None = None) -> Statement:
    return Statement(
        account=AccountRef(account.external_id, account.kind), currency="USD", lines=tuple(lines), balance=balance
    )


def _world(count: int):
    """`count` users with two accounts each, and one user rule for the coffee merchant."""
    dining = Category.objects.get(path="food/dining")
    users = []
    for _ in range(count):
        user: User = UserFactory.create()
        accounts = [AccountFactory(user=user), AccountFactory(user=user)]
        user_rule_set(user_id=user.pk, merchant_key="STARBUCKS", merchant_name="Starbucks", category=dining)
        users.append((user, accounts))
    return users


def _rows(accounts) -> list[tuple]:
    fields = (
        "external_id",
        "posted_on",
        "amount",
        "currency",
        "description",
        "memo",
        "mcc",
        "pending",
        "merchant_id",
        "merchant_key",
        "category_id",
        "category_source",
    )
    return [
        (index, *row)
        for index, account in enumerate(accounts)
        for row in Transaction.objects.filter(account=account).order_by("external_id").values_list(*fields)
    ]


def _totals(user) -> list[tuple]:
    return list(
        MonthlySpending.objects.filter(user=user)
        .order_by("month", "category_id")
        .values_list("month", "category_id", "amount", "txn_count")
    )


@only_postgresql
def test_bulk_gives_the_same_rows_and_totals_as_statements_ingest(django_capture_on_commit_callbacks):
    rng = random.Random(20260101)
    one_by_one, in_bulk = _world(4), _world(4)
    rounds: list[list[list[list[StatementLine]]]] = []
    restated = 0
    for round_number in range(3):
        # Each round: new lines, a replay of part of the last round (overlapping windows), some
        # posted restatements of earlier pending lines, and a line repeated inside a statement.
        per_user = []
        for user_index in range(4):
            per_account = []
            for account_index in range(2):
                prefix = f"u{user_index}a{account_index}r{round_number}"
                lines = _lines(rng, prefix, 40, pending_share=0.2)
                if rounds:
                    earlier = rounds[-1][user_index][account_index]
                    lines += earlier[:10]
                    lines += [
                        StatementLine(
                            external_id=line.external_id,
                            posted_on=line.posted_on + dt.timedelta(days=2),
                            amount=line.amount - Decimal("1.50"),
                            description=line.description,
                        )
                        for line in earlier
                        if line.pending
                    ][:3]
                lines.append(lines[0])
                per_account.append(lines)
            per_user.append(per_account)
        rounds.append(per_user)

        expected = {}
        with django_capture_on_commit_callbacks(execute=True):
            for (user, accounts), account_lines in zip(one_by_one, per_user, strict=True):
                pairs = [
                    (account, _statement(account, lines))
                    for account, lines in zip(accounts, account_lines, strict=True)
                ]
                expected[user.pk] = statements_ingest(user_id=user.pk, statements=pairs)
            batch = {
                user.pk: [
                    (account, _statement(account, lines))
                    for account, lines in zip(accounts, account_lines, strict=True)
                ]
                for (user, accounts), account_lines in zip(in_bulk, per_user, strict=True)
            }
            results = statements_ingest_bulk(batch=batch)
        for (user_a, _), (user_b, _) in zip(one_by_one, in_bulk, strict=True):
            assert (results[user_b.pk].new, results[user_b.pk].existing, results[user_b.pk].months) == (
                expected[user_a.pk].new,
                expected[user_a.pk].existing,
                expected[user_a.pk].months,
            )
            assert results[user_b.pk].updated == expected[user_a.pk].updated
            restated += results[user_b.pk].updated

    for (user_a, accounts_a), (user_b, accounts_b) in zip(one_by_one, in_bulk, strict=True):
        assert _rows(accounts_b) == _rows(accounts_a)
        assert _totals(user_b) == _totals(user_a)
        unmatched_a = set(UnmatchedMerchantUser.objects.filter(user=user_a).values_list("merchant_key", flat=True))
        unmatched_b = set(UnmatchedMerchantUser.objects.filter(user=user_b).values_list("merchant_key", flat=True))
        assert unmatched_b == unmatched_a
    assert Transaction.objects.filter(account__user__in=[user for user, _ in in_bulk], pending=True).exists()
    assert Transaction.objects.filter(category_source="user-rule").exists()
    assert restated  # pending rows posted later went through the restatement path


def test_replaying_a_batch_changes_nothing(django_capture_on_commit_callbacks):
    rng = random.Random(7)
    world = _world(3)
    batch = {
        user.pk: [(account, _statement(account, _lines(rng, f"{account.pk}", 30))) for account in accounts]
        for user, accounts in world
    }
    with django_capture_on_commit_callbacks(execute=True):
        first = statements_ingest_bulk(batch=batch)
    rows = Transaction.objects.count()
    totals = {user.pk: _totals(user) for user, _ in world}
    with django_capture_on_commit_callbacks(execute=True):
        again = statements_ingest_bulk(batch=batch)
    assert sum(result.new for result in first.values()) == rows == 180
    assert all(result.new == 0 and result.existing == 60 for result in again.values())
    assert Transaction.objects.count() == rows
    assert {user.pk: _totals(user) for user, _ in world} == totals


def test_every_user_touched_gets_the_committed_months_cached(django_capture_on_commit_callbacks):
    world = _world(2)
    january = dt.date(2026, 1, 15)
    batch = {
        user.pk: [
            (accounts[0], _statement(accounts[0], [StatementLine("x1", january, Decimal("-9.99"), "NETFLIX.COM")]))
        ]
        for user, accounts in world
    }
    with django_capture_on_commit_callbacks(execute=True):
        statements_ingest_bulk(batch=batch)
    for user, _ in world:
        cached = cache.get(spending_cache_key(user.pk, dt.date(2026, 1, 1)))
        assert cached is not None


def test_a_posted_line_updates_its_pending_row_in_bulk(django_capture_on_commit_callbacks):
    ((user, (account, _)),) = _world(1)
    day = dt.date(2026, 3, 30)
    with django_capture_on_commit_callbacks(execute=True):
        statements_ingest_bulk(
            batch={
                user.pk: [
                    (
                        account,
                        _statement(
                            account, [StatementLine("h1", day, Decimal("-80.00"), "SHELL OIL 12", pending=True)]
                        ),
                    )
                ]
            }
        )
        results = statements_ingest_bulk(
            batch={
                user.pk: [
                    (
                        account,
                        _statement(
                            account,
                            [StatementLine("h1", day + dt.timedelta(days=3), Decimal("-62.40"), "SHELL OIL 12")],
                        ),
                    )
                ]
            }
        )
    row = Transaction.objects.get(account=account, external_id="h1")
    assert (row.pending, row.amount, row.posted_on) == (False, Decimal("-62.40"), dt.date(2026, 4, 2))
    assert (results[user.pk].new, results[user.pk].updated) == (0, 1)
    assert results[user.pk].months == {dt.date(2026, 3, 1), dt.date(2026, 4, 1)}


def test_an_account_of_another_user_is_refused_before_anything_is_written():
    ((user, (account, _)), (_other, (others_account, _))) = _world(2)
    lines = [StatementLine("a1", dt.date(2026, 1, 2), Decimal("-5.00"), "NETFLIX.COM")]
    with pytest.raises(ValueError, match="does not belong"):
        statements_ingest_bulk(
            batch={
                user.pk: [(account, _statement(account, lines)), (others_account, _statement(others_account, lines))]
            }
        )
    assert not Transaction.objects.exists()
    assert not MonthlySpending.objects.exists()


@only_postgresql
def test_a_row_the_table_refuses_leaves_nothing_of_the_batch():
    ((user, (account, _)), (other, (others_account, _))) = _world(2)
    good = [StatementLine("g1", dt.date(2026, 1, 2), Decimal("-5.00"), "NETFLIX.COM")]
    too_long = [StatementLine("b1", dt.date(2026, 1, 2), Decimal("-5.00"), "X" * 300)]
    with pytest.raises(DataError):
        statements_ingest_bulk(
            batch={
                user.pk: [
                    (
                        account,
                        _statement(account, good),
                    )
                ],
                other.pk: [(others_account, _statement(others_account, too_long, balance=Decimal("10.00")))],
            }
        )
    assert not Transaction.objects.exists()
    assert not MonthlySpending.objects.exists()
    others_account.refresh_from_db()
    assert others_account.balance is None
    assert connection.vendor == "postgresql"


def test_a_large_file_import_goes_through_the_bulk_path_once(user, django_capture_on_commit_callbacks):
    from transactions import services
    from transactions.models import RawPayload

    count = services.BULK_IMPORT_MIN_LINES + 200
    rows = ["Date,Description,Amount"]
    rows += [
        f"2026-{n % 6 + 1:02d}-{n % 28 + 1:02d},STARBUCKS STORE #{n % 97} SEATTLE WA,-{n % 50 + 1}.25"
        for n in range(count)
    ]
    raw = ("\n".join(rows) + "\n").encode()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.file_import(user=user, account_name="Checking", raw=raw, filename="big.csv")
        again = services.file_import(user=user, account_name="Checking", raw=raw, filename="big.csv")
    assert (first.new, again.new, again.existing) == (count, 0, count)
    assert Transaction.objects.filter(user=user).count() == count
    assert sum(MonthlySpending.objects.filter(user=user).values_list("txn_count", flat=True)) == count
    payload = RawPayload.objects.order_by("pk").get(filename="big.csv", rows_new__gt=0)
    assert (payload.status, payload.rows_new, payload.rows_existing) == (RawPayload.Status.IMPORTED, count, 0)
    assert Transaction.objects.filter(raw_payload=payload).count() == count


def test_every_user_touched_gets_the_budget_check(django_capture_on_commit_callbacks):
    from django.utils import timezone

    from budgets.models import BudgetAlert
    from budgets.services import budget_set

    world = _world(2)
    streaming = Category.objects.get(path="entertainment/streaming")
    today = timezone.localdate()
    for user, _ in world:
        budget_set(user=user, category=streaming, amount=Decimal("10"))
    batch = {
        user.pk: [
            (accounts[0], _statement(accounts[0], [StatementLine("c1", today, Decimal("-50.00"), "NETFLIX.COM")]))
        ]
        for user, accounts in world
    }
    with django_capture_on_commit_callbacks(execute=True):
        statements_ingest_bulk(batch=batch)
    for user, _ in world:
        assert BudgetAlert.objects.filter(user=user, level=BudgetAlert.Level.EXCEEDED).exists()
