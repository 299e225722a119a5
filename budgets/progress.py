"""The budgets page's read: each budget against this month, last month and the month-end pace."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from mint.converters import previous_month
from mint.models import User

from .selectors import budget_list_for_user, spending_summary, spent_in_category

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class State:
    OK = "ok"
    NEAR = "near"  # at or past the budget's approaching level
    OVER = "over"


@dataclass(frozen=True)
class BudgetProgress:
    """One budget this month; a parent category's figures include its children."""

    budget_id: int
    category: str
    amount: Decimal
    approaching_percent: int  # the level in force: the budget's own, else the default
    spent: Decimal
    last_month: Decimal
    projected: Decimal  # month-end spending if the month goes on at its pace so far

    @property
    def remaining(self) -> Decimal:
        """Negative when over budget."""
        return self.amount - self.spent

    @property
    def over_by(self) -> Decimal:
        return self.spent - self.amount

    @property
    def percent_used(self) -> int:
        return round(max(self.spent, ZERO) * 100 / self.amount)

    @property
    def state(self) -> str:
        if self.spent > self.amount:
            return State.OVER
        # The alert check's comparison (spent * 100 / amount >= level), without its rounding.
        if self.spent * 100 >= self.approaching_percent * self.amount:
            return State.NEAR
        return State.OK

    @property
    def projected_over(self) -> bool:
        return self.projected > self.amount

    @property
    def projected_over_by(self) -> Decimal:
        return self.projected - self.amount


def projected_month_end(*, spent: Decimal, today: dt.date) -> Decimal:
    """`spent` so far extrapolated to the month's last day: spent / days elapsed * days in month.

    Today counts as elapsed, so on the last day the projection is what was spent. A month
    that nets to a refund (spent at or below zero) has no pace to extrapolate.
    """
    if spent <= 0:
        return spent.quantize(CENT)
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    return (spent * days_in_month / today.day).quantize(CENT, rounding=ROUND_HALF_UP)


def budget_progress(*, user: User, today: dt.date | None = None) -> list[BudgetProgress]:
    """Every budget of the user (by category path) against this month's and last month's spending.

    Spending comes from the cached monthly summaries (the widget's read path, so a warm page
    costs one query, for the budgets); the transactions table is never read. Amounts and
    levels come from the budget rows, which the page edits, not from the cached budgets.
    """
    today = today or timezone.localdate()
    this_month = today.replace(day=1)
    last_month = previous_month(this_month)
    spent_now = spending_summary(user_id=user.pk, month=this_month).categories
    spent_before = spending_summary(user_id=user.pk, month=last_month).categories
    rows = []
    for budget in budget_list_for_user(user=user):
        spent = spent_in_category(spent_now, budget.category.path)
        rows.append(
            BudgetProgress(
                budget_id=budget.pk,
                category=budget.category.path,
                amount=budget.amount,
                approaching_percent=budget.approaching_level,
                spent=spent,
                last_month=spent_in_category(spent_before, budget.category.path),
                projected=projected_month_end(spent=spent, today=today),
            )
        )
    return rows
