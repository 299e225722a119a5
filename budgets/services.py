"""Writes to budgets, and the alert check that runs after spending changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction

from categories.models import Category
from mint.db import transaction_lock
from mint.models import User
from mint.tasks import enqueue_on_commit
from notifications.services import notification_create
from transactions.aggregates import spending_lock_name
from transactions.selectors import month_spending_from_db

from .models import Budget, BudgetAlert, BudgetProfile
from .recommendations import budget_recommendations
from .selectors import (
    budget_amounts_from_db,
    budget_list_for_user,
    budget_profile_for,
    budgets_cache_key,
    budgets_last_known_key,
    current_month,
    spent_in_category,
)


def budget_set(
    *, user: User, category: Category, amount: Decimal, approaching_percent: int | None = None
) -> tuple[Budget, bool]:
    """Create or replace the user's monthly budget on a category; True if it was created.

    `approaching_percent` changes when the first alert fires (left as it was when None). A
    budget moved above this month's spending re-arms the alerts it no longer reaches, so
    they can fire again later in the month.
    """
    if not category.is_spending:
        raise ValidationError({"category": f"{category.path} is not a spending category."})
    if amount <= 0:
        raise ValidationError({"amount": "A budget must be more than zero."})
    if approaching_percent is not None and not 1 <= approaching_percent <= 99:
        raise ValidationError({"approaching_percent": "Between 1 and 99 percent."})
    defaults: dict[str, object] = {"amount": amount}
    if approaching_percent is not None:
        defaults["approaching_percent"] = approaching_percent
    with transaction.atomic():
        transaction_lock(spending_lock_name(user.pk))
        budget, created = Budget.objects.update_or_create(user=user, category=category, defaults=defaults)
        if not created:
            _alerts_rearm(budget=budget)
        transaction.on_commit(lambda: budgets_cache_refresh(user_id=user.pk))
        # A budget set below what is already spent this month is already crossed.
        enqueue_on_commit("budgets.tasks.spending_changed", user.pk, [current_month().isoformat()])
    return budget, created


def budget_delete(*, budget: Budget) -> None:
    """Remove a budget; this month's alerts on it go too, so a new budget starts afresh."""
    with transaction.atomic():
        transaction_lock(spending_lock_name(budget.user_id))
        BudgetAlert.objects.filter(
            user_id=budget.user_id, category_id=budget.category_id, month=current_month()
        ).delete()
        budget.delete()
        transaction.on_commit(lambda: budgets_cache_refresh(user_id=budget.user_id))


def _alerts_rearm(*, budget: Budget) -> None:
    """Forget this month's alerts on the budget whose level the current spending no longer reaches."""
    month = current_month()
    spent = spent_in_category(
        month_spending_from_db(user_id=budget.user_id, month=month).categories, budget.category.path
    )
    used = spent * 100 / budget.amount
    unreached = [level for level, threshold in budget.alert_levels if used < threshold]
    BudgetAlert.objects.filter(
        user_id=budget.user_id, category=budget.category, month=month, level__in=unreached
    ).delete()


def budget_recommendations_accept(*, user: User, categories: list[str] | None = None) -> list[Budget]:
    """Set the recommended budgets (all, or those of the given category paths), all or none."""
    chosen = [rec for rec in budget_recommendations(user=user) if categories is None or rec.category in categories]
    if categories is not None:
        unknown = set(categories) - {rec.category for rec in chosen}
        if unknown:
            raise ValidationError({"categories": f"No recommendation for {', '.join(sorted(unknown))}."})
    paths = {category.path: category for category in Category.objects.filter(path__in=[rec.category for rec in chosen])}
    with transaction.atomic():
        return [budget_set(user=user, category=paths[rec.category], amount=rec.amount)[0] for rec in chosen]


def budget_profile_update(*, user: User, **fields: object) -> BudgetProfile:
    """Change the user's budget settings (`monthly_income`, `approaching_percent`; None: default)."""
    profile = budget_profile_for(user=user)
    for name, value in fields.items():
        setattr(profile, name, value)
    try:
        profile.full_clean(exclude=["user"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    profile.save()
    return profile


def budgets_cache_refresh(*, user_id: int) -> None:
    """Put the committed budgets in the widget's cache, read under the lock budget writes hold."""
    with transaction.atomic():
        transaction_lock(spending_lock_name(user_id))
        budgets = budget_amounts_from_db(user_id=user_id)
        cache.set(budgets_cache_key(user_id), budgets, timeout=settings.SPENDING_CACHE_TIMEOUT)
        cache.set(budgets_last_known_key(user_id), budgets, timeout=settings.SPENDING_LAST_KNOWN_TIMEOUT)


def budget_alerts_check_after_change(*, user: User, months: list[dt.date]) -> list[BudgetAlert]:
    """Check budgets after spending changed in these months.

    Only the current month alerts: importing a year of history must not send a year of
    alerts about months that are over.
    """
    this_month = current_month()
    if this_month not in months:
        return []
    return budget_alerts_check(user=user, month=this_month)


def budget_alerts_check(*, user: User, month: dt.date) -> list[BudgetAlert]:
    """Record each budget's "approaching" and "exceeded" alerts at most once for the month.

    Spending is read from the database, not the cache: an alert must not act on a stale
    total. The unique (user, category, month, level) key makes a retried or concurrent
    check a no-op. When one change crosses both levels, both are recorded and one notice
    (the higher) is sent.
    """
    with transaction.atomic():
        # Under the lock budget changes take: a check must not record an alert against a budget
        # that was just raised (re-armed) or removed.
        transaction_lock(spending_lock_name(user.pk))
        budgets = list(budget_list_for_user(user=user))
        if not budgets:
            return []
        spending = month_spending_from_db(user_id=user.pk, month=month)
        fired = []
        for budget in budgets:
            spent = spent_in_category(spending.categories, budget.category.path)
            used = spent * 100 / budget.amount
            crossed = [level for level, threshold in budget.alert_levels if used >= threshold]
            if crossed:
                fired += _alerts_record(user=user, budget=budget, month=month, levels=crossed, spent=spent)
        return fired


def _alerts_record(
    *, user: User, budget: Budget, month: dt.date, levels: list[str], spent: Decimal
) -> list[BudgetAlert]:
    with transaction.atomic():
        new = []
        for level in levels:
            alert, created = BudgetAlert.objects.get_or_create(
                user=user,
                category=budget.category,
                month=month,
                level=level,
                defaults={"budget_amount": budget.amount, "spent": spent},
            )
            if created:
                new.append(alert)
        if new:
            _alert_notify(user=user, budget=budget, alert=new[-1], spent=spent)
    return new


def _alert_notify(*, user: User, budget: Budget, alert: BudgetAlert, spent: Decimal) -> None:
    month, level = alert.month, alert.level
    path = budget.category.path
    if level == BudgetAlert.Level.EXCEEDED:
        subject = f"You've gone over your {budget.category.name} budget"
    else:
        subject = f"You're close to your {budget.category.name} budget"
    body = (
        f"You have spent ${spent:,.2f} of your ${budget.amount:,.2f} monthly budget for {budget.category.name} "
        f"in {month:%B %Y} ({spent * 100 / budget.amount:.0f}%)."
    )
    notification_create(
        user=user,
        kind=f"budget.{level}",
        subject=subject,
        body=body,
        # The alert row's own id: a re-armed alert (the budget was raised) is a new notice.
        dedupe_key=f"budget-alert:{alert.pk}",
        context={"category": path, "month": f"{month:%Y-%m}", "level": level},
    )
