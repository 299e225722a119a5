"""Reads of budgets and the spending widget."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.db.models import QuerySet, Sum
from django.utils import timezone

from categories.models import Category
from mint.models import User
from transactions.models import MonthlySpending
from transactions.selectors import (
    MonthSpending,
    month_spending_from_db,
    spending_cache_key,
    spending_last_known_key,
)

from .models import Budget, BudgetProfile

logger = logging.getLogger("mint.fallback")  # at most once a minute


def budget_list_for_user(*, user: User) -> QuerySet[Budget]:
    return Budget.objects.filter(user=user).select_related("category", "user__budget_profile")


def budget_profile_for(*, user: User) -> BudgetProfile:
    """The user's budget settings; the defaults (unsaved) when they never entered any."""
    return BudgetProfile.objects.filter(user=user).first() or BudgetProfile(user=user)


def approaching_default(*, user: User) -> int:
    """The approaching level of the user's budgets that set none."""
    return budget_profile_for(user=user).approaching_percent or settings.BUDGET_ALERT_LEVELS["approaching"]


def spent_in_category(categories: dict[str, Decimal], path: str) -> Decimal:
    """Spending under a category path: the category itself and, for a parent, its children."""
    prefix = f"{path}/"
    return sum((amount for key, amount in categories.items() if key == path or key.startswith(prefix)), Decimal("0"))


def current_month() -> dt.date:
    return timezone.localdate().replace(day=1)


def budgets_cache_key(user_id: int) -> str:
    return f"budgets:v1:{user_id}"


def budgets_last_known_key(user_id: int) -> str:
    return f"budgets-last:v1:{user_id}"


def budget_amounts_from_db(*, user_id: int) -> dict[str, Decimal]:
    """The user's budgets, category path -> monthly amount."""
    return dict(Budget.objects.filter(user_id=user_id).values_list("category__path", "amount").order_by())


@dataclass(frozen=True)
class BreakdownRow:
    """A category's month against its budget; a parent's figures include its children."""

    category: str
    amount: Decimal
    count: int
    budget: Decimal | None = None
    children: list[BreakdownRow] = field(default_factory=list)

    @property
    def percent_used(self) -> Decimal | None:
        if self.budget is None:
            return None
        return (self.amount * 100 / self.budget).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class SpendingSummary:
    """The widget: a month's aggregates with the user's budgets, and whether it is a fallback."""

    spending: MonthSpending
    budgets: dict[str, Decimal]
    stale: bool = False

    @property
    def as_of(self) -> dt.datetime | None:
        return self.spending.read_at

    @property
    def month(self) -> dt.date:
        return self.spending.month

    @property
    def total(self) -> Decimal:
        return self.spending.total

    @property
    def categories(self) -> dict[str, Decimal]:
        return self.spending.categories

    @property
    def txn_count(self) -> int:
        return self.spending.txn_count

    @property
    def income(self) -> Decimal:
        return self.spending.income

    @property
    def updated_at(self) -> dt.datetime | None:
        return self.spending.updated_at

    @property
    def breakdown(self) -> list[BreakdownRow]:
        """Per parent category (largest first) with its children: spending and every budgeted one."""
        amounts = dict(self.spending.categories)
        counts = dict(self.spending.counts)
        for path in self.budgets:
            amounts.setdefault(path, Decimal("0.00"))
            counts.setdefault(path, 0)
        parents: dict[str, list[str]] = {}
        for path in amounts:
            parents.setdefault(path.split("/")[0], [])
            if "/" in path:
                parents[path.split("/")[0]].append(path)
        rows = []
        for parent, child_paths in parents.items():
            children = sorted(
                (BreakdownRow(path, amounts[path], counts[path], self.budgets.get(path)) for path in child_paths),
                key=lambda row: (-row.amount, row.category),
            )
            rows.append(
                BreakdownRow(
                    parent,
                    amounts.get(parent, Decimal("0.00")) + sum((child.amount for child in children), Decimal("0.00")),
                    counts.get(parent, 0) + sum(child.count for child in children),
                    self.budgets.get(parent),
                    children,
                )
            )
        return sorted(rows, key=lambda row: (-row.amount, row.category))


def spending_summary(*, user_id: int, month: dt.date) -> SpendingSummary:
    """Cache-aside: one cache read (the month and the budgets together) when warm.

    On a miss, one indexed query on monthly_spending (and one on budgets); the entry is only
    added, never overwritten, so a read racing a commit cannot replace the commit's refresh
    with an older total. With the cache down the database answers; with the database down
    the last known copy answers, marked stale. A month with no data reads as zeros,
    and nothing is written to the database for it.
    """
    spending_key, budgets_key = spending_cache_key(user_id, month), budgets_cache_key(user_id)
    cached = cache.get_many([spending_key, budgets_key])
    spending, budgets = cached.get(spending_key), cached.get(budgets_key)
    if spending is not None and budgets is not None:
        return SpendingSummary(spending, budgets)
    try:
        if spending is None:
            spending = month_spending_from_db(user_id=user_id, month=month)
            cache.add(spending_key, spending, timeout=settings.SPENDING_CACHE_TIMEOUT)
            cache.set(spending_last_known_key(user_id, month), spending, timeout=settings.SPENDING_LAST_KNOWN_TIMEOUT)
        if budgets is None:
            budgets = budget_amounts_from_db(user_id=user_id)
            cache.add(budgets_key, budgets, timeout=settings.SPENDING_CACHE_TIMEOUT)
            cache.set(budgets_last_known_key(user_id), budgets, timeout=settings.SPENDING_LAST_KNOWN_TIMEOUT)
    except (OperationalError, InterfaceError):
        last_known = cache.get_many([spending_last_known_key(user_id, month), budgets_last_known_key(user_id)])
        spending = spending or last_known.get(spending_last_known_key(user_id, month))
        if spending is None:
            raise
        logger.warning("database unavailable: serving the last known spending summary")
        return SpendingSummary(spending, budgets or last_known.get(budgets_last_known_key(user_id), {}), stale=True)
    return SpendingSummary(spending, budgets)


def spending_for_month(*, user: User, month: dt.date | None = None) -> SpendingSummary:
    """The widget's answer for a month (this month by default)."""
    return spending_summary(user_id=user.pk, month=month or current_month())


@dataclass(frozen=True)
class TrendMonth:
    month: dt.date
    spending: Decimal = Decimal("0.00")
    income: Decimal = Decimal("0.00")


def spending_trend(*, user: User, end_month: dt.date, months: int = 12) -> list[TrendMonth]:
    """Spending and income per month, oldest first, ending with `end_month`; months without rows are zeros.

    One grouped query on the monthly aggregates (never the transactions table). Signs as in
    the widget: spending is the negated sum over spending categories, so refunds lower it.
    """
    end = end_month.replace(day=1)
    last = end.year * 12 + end.month - 1
    month_list = [dt.date(index // 12, index % 12 + 1, 1) for index in range(last - months + 1, last + 1)]
    rows = (
        MonthlySpending.objects.filter(
            user=user,
            month__gte=month_list[0],
            month__lte=end,
            category__kind__in=[Category.Kind.SPENDING, Category.Kind.INCOME],
        )
        .values_list("month", "category__kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    zero = Decimal("0.00")
    spending: dict[dt.date, Decimal] = {}
    income: dict[dt.date, Decimal] = {}
    for month, kind, total in rows:
        amount = total.quantize(zero)  # SQLite sums in binary floating point (docs/DECISIONS.md)
        if kind == Category.Kind.SPENDING:
            spending[month] = zero - amount  # not -amount: a month that nets to zero reads 0.00, not -0.00
        else:
            income[month] = amount
    return [TrendMonth(month, spending.get(month, zero), income.get(month, zero)) for month in month_list]
