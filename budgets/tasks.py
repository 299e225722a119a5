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
