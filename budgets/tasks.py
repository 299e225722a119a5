from __future__ import annotations

from django.contrib.auth import get_user_model

from . import services
from .selectors import current_month


def spending_changed(user_id: int, months: list[str]) -> int:
    """After spending changed: check this month's budgets (history imports do not alert)."""
    user = get_user_model().objects.filter(pk=user_id).first()
    this_month = current_month()
    if user is None or this_month.isoformat() not in months:
        return 0
    return len(services.budget_alerts_check(user=user, month=this_month))
