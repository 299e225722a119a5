"""Property: whatever sequence of imports, replays, refunds, overrides and deletions happens,
monthly_spending equals a recompute from the transactions after every step."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from accounts.providers.base import AccountRef, Statement, StatementLine
from accounts.tests.factories import AccountFactory
from categories.models import Category
from mint.tests.factories import UserFactory
from transactions.aggregates import spending_drift
from transactions.models import Transaction
from transactions.services import account_history_delete, statements_ingest, transaction_recategorize

pytestmark = pytest.mark.django_db

DESCRIPTORS = [
    "WHOLE FOODS MKT #10234",  # spending (a positive amount is a refund)
    "NETFLIX.COM",
    "SHELL OIL 57444212",
    "ACME CORP PAYROLL PPD",  # income
    "CHASE CREDIT CRD AUTOPAY",  # transfer
    "QUIXOTIC GADGETS #0042 PORTLAND OR",  # nothing knows it: the fallback
]
DAYS = [dt.date(2026, 9, 30), dt.date(2026, 10, 1), dt.date(2026, 10, 31), dt.date(2026, 11, 15)]

lines = st.lists(
    st.builds(
        StatementLine,
        external_id=st.sampled_from([f"fitid-{n}" for n in range(12)]),  # a small pool: overlaps happen
        posted_on=st.sampled_from(DAYS),
        amount=st.integers(-50_000, 50_000).filter(bool).map(lambda cents: Decimal(cents) / 100),
        description=st.sampled_from(DESCRIPTORS),
    ),
    min_size=1,
    max_size=6,
)


class SpendingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()  # each example starts from nothing and is rolled back
        self.user = UserFactory.create()
        self.accounts = [AccountFactory.create(user=self.user), AccountFactory.create(user=self.user)]
        self.imported: list[tuple[int, Statement]] = []
        self.categories = list(Category.objects.filter(children__isnull=True).order_by("path"))

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    def _ingest(self, index: int, statement: Statement) -> None:
        statements_ingest(user_id=self.user.pk, statements=[(self.accounts[index], statement)])

    @rule(index=st.integers(0, 1), statement_lines=lines)
    def import_statement(self, index, statement_lines):
        account = self.accounts[index]
        statement = Statement(
            account=AccountRef(account.external_id, account.kind), currency="USD", lines=tuple(statement_lines)
        )
        self._ingest(index, statement)
        self.imported.append((index, statement))

    @rule(data=st.data())
    def replay(self, data):
        if self.imported:
            self._ingest(*data.draw(st.sampled_from(self.imported)))

    @rule(data=st.data(), always=st.booleans(), include_past=st.booleans())
    def override(self, data, always, include_past):
        ids = list(Transaction.objects.filter(user=self.user).values_list("pk", flat=True))
        if ids:
            txn = Transaction.objects.get(pk=data.draw(st.sampled_from(ids)))
            category = data.draw(st.sampled_from(self.categories))
            transaction_recategorize(txn=txn, category=category, always=always, include_past=include_past)

    @rule(index=st.integers(0, 1))
    def delete_history(self, index):
        account_history_delete(account=self.accounts[index])

    @rule(index=st.integers(0, 1))
    def delete_account(self, index):
        self.accounts[index].delete()
        self.accounts[index] = AccountFactory.create(user=self.user)
        self.imported = [(i, statement) for i, statement in self.imported if i != index]

    @invariant()
    def aggregates_equal_a_recompute(self):
        assert spending_drift(user_ids=[self.user.pk]) == []


def test_aggregates_always_equal_a_recompute():
    run_state_machine_as_test(
        SpendingMachine, settings=settings(max_examples=100, stateful_step_count=15, deadline=None)
    )
