"""Reads of budgets and the spending widget."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from transactions.selectors import MonthSpending, month_spending

from .models import Budget


def budget_list_for_user(*, user) -> QuerySet[Budget]:
    return Budget.objects.filter(user=user).select_related("category")


def budget_get_for_user(*, user, budget_id: int) -> Budget:
    return get_object_or_404(budget_list_for_user(user=user), pk=budget_id)


def spent_in_category(categories: dict[str, Decimal], path: str) -> Decimal:
    """Spending under a category path: the category itself and, for a parent, its children."""
    prefix = f"{path}/"
    return sum((amount for key, amount in categories.items() if key == path or key.startswith(prefix)), Decimal("0"))


def current_month() -> dt.date:
    return timezone.localdate().replace(day=1)


def spending_for_month(*, user, month: dt.date | None = None) -> MonthSpending:
    """The widget's answer for a month (this month by default)."""
    return month_spending(user_id=user.pk, month=month or current_month())
