"""Reads of budgets and the spending widget."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from mint.models import User
from transactions.selectors import MonthSpending, month_spending

from .models import Budget


def budget_list_for_user(*, user: User) -> QuerySet[Budget]:
    return Budget.objects.filter(user=user).select_related("category")


def spent_in_category(categories: dict[str, Decimal], path: str) -> Decimal:
    """Spending under a category path: the category itself and, for a parent, its children."""
    prefix = f"{path}/"
    return sum((amount for key, amount in categories.items() if key == path or key.startswith(prefix)), Decimal("0"))


def current_month() -> dt.date:
    return timezone.localdate().replace(day=1)


def spending_for_month(*, user: User, month: dt.date | None = None) -> MonthSpending:
    """The widget's answer for a month (this month by default)."""
    return month_spending(user_id=user.pk, month=month or current_month())
