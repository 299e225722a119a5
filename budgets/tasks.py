from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from . import services


def spending_changed(user_id: int, months: list[str]) -> int:
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return 0  # the account was deleted while the task waited
    changed = [dt.date.fromisoformat(month) for month in months]
    return len(services.budget_alerts_check_after_change(user=user, months=changed))


def spending_changed_many(changes: list[tuple[int, list[str]]]) -> int:
    """`spending_changed` for each (user id, months) of a bulk import: one task for the batch."""
    return sum(spending_changed(user_id, months) for user_id, months in changes)
