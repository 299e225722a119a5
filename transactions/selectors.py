"""Reads of transactions and of the monthly aggregates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from categories.models import Category, Merchant
from mint.converters import next_month
from mint.models import User

from .models import MonthlySpending, RawPayload, Transaction

ZERO = Decimal("0.00")


def transaction_list_for_user(
    *,
    user: User,
    month: dt.date | None = None,
    account: int | None = None,
    category: str | None = None,
    merchant: str | None = None,
    q: str | None = None,
    amount_min: Decimal | None = None,
    amount_max: Decimal | None = None,
) -> QuerySet[Transaction]:
    """The user's transactions, newest first (id breaks ties, so a keyset cursor is stable).

    `category` includes a parent's children; `merchant` and `q` match case-insensitively
    (`q` over the descriptor, memo and merchant); the amount range is on the size of the
    amount, money in or out.
    """
    queryset = Transaction.objects.filter(user=user)
    if month:
        queryset = queryset.filter(posted_on__gte=month, posted_on__lt=next_month(month))
    if account:
        queryset = queryset.filter(account_id=account)
    if category:
        path = category.strip("/")
        queryset = queryset.filter(Q(category__path=path) | Q(category__path__startswith=f"{path}/"))
    if merchant:
        queryset = queryset.filter(Q(merchant__name__icontains=merchant) | Q(merchant_key__icontains=merchant))
    if q:
        # The merchants as a subquery, not a join: joined, every one of the user's rows was
        # matched against the merchant table before the filter (bench/pages.py, ?q=).
        merchants = Merchant.objects.filter(name__icontains=q).values("pk")
        queryset = queryset.filter(Q(description__icontains=q) | Q(memo__icontains=q) | Q(merchant__in=merchants))
    if amount_min is not None or amount_max is not None:
        low = amount_min if amount_min is not None else ZERO
        money_in, money_out = Q(amount__gte=low), Q(amount__lte=-low)
        if amount_max is not None:
            money_in &= Q(amount__lte=amount_max)
            money_out &= Q(amount__gte=-amount_max)
        queryset = queryset.filter(money_in | money_out)
    return queryset.select_related("account", "category", "merchant").order_by("-posted_on", "-id")


def transaction_get_for_user(*, user: User, txn_id: int) -> Transaction:
    return get_object_or_404(transaction_list_for_user(user=user), pk=txn_id)


@dataclass(frozen=True)
class MonthSpending:
    """One user's month as the aggregates say it: what the "spending this month" widget shows."""

    month: dt.date
    total: Decimal = ZERO
    categories: dict[str, Decimal] = field(default_factory=dict)  # spending category path -> amount spent
    counts: dict[str, int] = field(default_factory=dict)  # spending category path -> transactions
    txn_count: int = 0
    income: Decimal = ZERO
    updated_at: dt.datetime | None = None  # the newest change to the month's aggregates
    read_at: dt.datetime | None = None  # when this was read from the database


def spending_cache_key(user_id: int, month: dt.date) -> str:
    return f"spending:v2:{user_id}:{month:%Y-%m}"


def spending_last_known_key(user_id: int, month: dt.date) -> str:
    """A longer-lived copy, served (marked stale) only when the database cannot answer."""
    return f"spending-last:v2:{user_id}:{month:%Y-%m}"


def months_spending_from_db(*, user_id: int, months: Iterable[dt.date]) -> dict[dt.date, MonthSpending]:
    """One indexed read of the months' aggregate rows; the transactions table is not touched.

    A month without rows reads as zeros and nothing is written for it.
    """
    wanted = sorted(set(months))
    rows = (
        MonthlySpending.objects.filter(user_id=user_id, month__in=wanted)
        .values_list("month", "category__path", "category__kind", "amount", "txn_count", "updated_at")
        .order_by()
    )
    by_month: dict[dt.date, list[tuple[str, str, Decimal, int, dt.datetime]]] = {month: [] for month in wanted}
    for month, *row in rows:
        by_month[month].append(tuple(row))  # type: ignore[arg-type]
    read_at = timezone.now()
    return {month: _month_spending(month, month_rows, read_at) for month, month_rows in by_month.items()}


def users_months_spending_from_db(*, user_months: dict[int, list[dt.date]]) -> dict[int, dict[dt.date, MonthSpending]]:
    """`months_spending_from_db` for many users in one indexed read (a bulk import's users)."""
    wanted = {(user_id, month) for user_id, months in user_months.items() for month in months}
    rows = (
        MonthlySpending.objects.filter(user_id__in=list(user_months), month__in=sorted({month for _, month in wanted}))
        .values_list("user_id", "month", "category__path", "category__kind", "amount", "txn_count", "updated_at")
        .order_by()
    )
    by_key: dict[tuple[int, dt.date], list[tuple[str, str, Decimal, int, dt.datetime]]] = {key: [] for key in wanted}
    for user_id, month, *row in rows:
        if (user_id, month) in by_key:
            by_key[(user_id, month)].append(tuple(row))  # type: ignore[arg-type]
    read_at = timezone.now()
    found: dict[int, dict[dt.date, MonthSpending]] = {user_id: {} for user_id in user_months}
    for (user_id, month), month_rows in by_key.items():
        found[user_id][month] = _month_spending(month, month_rows, read_at)
    return found


def _month_spending(
    month: dt.date, rows: list[tuple[str, str, Decimal, int, dt.datetime]], read_at: dt.datetime
) -> MonthSpending:
    categories: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
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
            counts[path] = txn_count
            total += spent
            count += txn_count
    return MonthSpending(
        month=month,
        total=total,
        categories=dict(sorted(categories.items(), key=lambda item: (-item[1], item[0]))),
        counts=counts,
        txn_count=count,
        income=income,
        updated_at=updated_at,
        read_at=read_at,
    )


def month_spending_from_db(*, user_id: int, month: dt.date) -> MonthSpending:
    return months_spending_from_db(user_id=user_id, months=[month])[month]


def upload_list_for_user(*, user: User) -> QuerySet[RawPayload]:
    """The user's uploaded statement files, newest first."""
    return RawPayload.objects.filter(user=user, source=RawPayload.Source.FILE)


def monthly_spending_list_for_user(*, user: User) -> QuerySet[MonthlySpending]:
    """The user's monthly aggregate rows, oldest month first (for their data export)."""
    return MonthlySpending.objects.filter(user=user).select_related("category").order_by("month", "category__path")
