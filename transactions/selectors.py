"""Reads of transactions and of the monthly aggregates (cache-aside)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from categories.models import Category
from mint.converters import next_month
from mint.models import User

from .models import MonthlySpending, Transaction

ZERO = Decimal("0.00")


def transaction_list_for_user(
    *, user: User, month: dt.date | None = None, account: int | None = None, category: str | None = None
) -> QuerySet[Transaction]:
    """Newest first (id breaks ties, so pages are stable); filters by month, account id, category path."""
    queryset = Transaction.objects.filter(user=user)
    if month:
        queryset = queryset.filter(posted_on__gte=month, posted_on__lt=next_month(month))
    if account:
        queryset = queryset.filter(account_id=account)
    if category:
        path = category.strip("/")
        queryset = queryset.filter(Q(category__path=path) | Q(category__path__startswith=f"{path}/"))
    return queryset.select_related("account", "category", "merchant").order_by("-posted_on", "-id")


def transaction_get_for_user(*, user: User, txn_id: int) -> Transaction:
    return get_object_or_404(transaction_list_for_user(user=user), pk=txn_id)


@dataclass(frozen=True)
class MonthSpending:
    """One user's month: what the "spending this month" widget shows."""

    month: dt.date
    total: Decimal = ZERO
    categories: dict[str, Decimal] = field(default_factory=dict)  # spending category path -> amount spent
    txn_count: int = 0
    income: Decimal = ZERO
    updated_at: dt.datetime | None = None


def spending_cache_key(user_id: int, month: dt.date) -> str:
    return f"spending:v1:{user_id}:{month:%Y-%m}"


def month_spending_from_db(*, user_id: int, month: dt.date) -> MonthSpending:
    """One indexed read of the month's aggregate rows; the transactions table is not touched."""
    rows = MonthlySpending.objects.filter(user_id=user_id, month=month).values_list(
        "category__path", "category__kind", "amount", "txn_count", "updated_at"
    )
    categories: dict[str, Decimal] = {}
    total = income = ZERO
    count = 0
    updated_at = None
    for path, kind, amount, txn_count, row_updated_at in rows:
        updated_at = max(updated_at, row_updated_at) if updated_at else row_updated_at
        if kind == Category.Kind.INCOME:
            income += amount
        elif kind == Category.Kind.SPENDING and txn_count:
            spent = -amount  # money out is negative; spending is reported positive, refunds lower it
            categories[path] = spent
            total += spent
            count += txn_count
    return MonthSpending(
        month=month,
        total=total,
        categories=dict(sorted(categories.items(), key=lambda item: (-item[1], item[0]))),
        txn_count=count,
        income=income,
        updated_at=updated_at,
    )


def month_spending(*, user_id: int, month: dt.date) -> MonthSpending:
    """Cache-aside: one cache read when warm; a month with no data reads as zeros, unwritten."""
    key = spending_cache_key(user_id, month)
    cached = cache.get(key)
    if cached is not None:
        return cached
    summary = month_spending_from_db(user_id=user_id, month=month)
    cache.set(key, summary, timeout=settings.SPENDING_CACHE_TIMEOUT)
    return summary
