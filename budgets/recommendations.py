"""Budget recommendations: from the user's own spending history, else the brief's income template.

Nothing here is stored: the template is a rule applied on read, and only budgets a user
sets (or accepts) become rows.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum

from categories.models import Category
from mint.models import User
from transactions.models import MonthlySpending

from .selectors import budget_amounts_from_db, budget_profile_for, current_month

HISTORY_MONTHS = 6  # the trailing complete months a recommendation looks at
MIN_HISTORY_MONTHS = 3  # fewer than this, and a category falls back to the income template
# The brief's template: a share of monthly income per category.
INCOME_TEMPLATE = {
    "housing": Decimal("0.40"),
    "food": Decimal("0.20"),
    "transport/gas": Decimal("0.10"),
    "shopping": Decimal("0.20"),
}
ZERO = Decimal("0.00")


class Rule:
    HISTORY = "history"
    INCOME_TEMPLATE = "income-template"


@dataclass(frozen=True)
class Recommendation:
    category: str
    amount: Decimal
    rule: str
    reason: str
    months: list[dt.date] = field(default_factory=list)  # the months the figure comes from
    current_budget: Decimal | None = None


def sensible_amount(value: Decimal) -> Decimal:
    """Rounded up to a figure a person would set: $5 steps under $100, $10 under $1,000, then $50."""
    if value <= 0:
        return ZERO
    step = 5 if value < 100 else 10 if value < 1000 else 50
    return Decimal(math.ceil(value / step) * step).quantize(ZERO)


def _months_before(month: dt.date, count: int) -> list[dt.date]:
    index = month.year * 12 + month.month - 1
    return [dt.date(i // 12, i % 12 + 1, 1) for i in range(index - count, index)]


def budget_recommendations(*, user: User) -> list[Recommendation]:
    """A monthly budget for each parent category the user spends in, or the template's categories.

    With at least MIN_HISTORY_MONTHS complete months of history, the figure is the median of
    the category's monthly spending over them (one large purchase moves a median little),
    rounded up. Otherwise the income template applies to the income the user entered, or
    else the median of the months' income. One grouped query on monthly_spending.
    """
    window = _months_before(current_month(), HISTORY_MONTHS)
    rows = (
        MonthlySpending.objects.filter(
            user=user,
            month__gte=window[0],
            month__lte=window[-1],
            category__kind__in=[Category.Kind.SPENDING, Category.Kind.INCOME],
        )
        .values_list("month", "category__path", "category__kind")
        .annotate(total=Sum("amount"), count=Sum("txn_count"))
        .order_by()
    )
    spent: dict[str, dict[dt.date, Decimal]] = {}
    income: dict[dt.date, Decimal] = {}
    active: set[dt.date] = set()
    for month, path, kind, total, count in rows:
        if count:
            active.add(month)
        if kind == Category.Kind.INCOME:
            income[month] = income.get(month, ZERO) + total
        else:
            parent = path.split("/")[0]
            spent.setdefault(parent, {})
            spent[parent][month] = spent[parent].get(month, ZERO) - total
    history = [month for month in window if active and month >= min(active)]
    budgets = budget_amounts_from_db(user_id=user.pk)
    recommendations: dict[str, Recommendation] = {}
    if len(history) >= MIN_HISTORY_MONTHS:
        for path, by_month in spent.items():
            median = statistics.median(by_month.get(month, ZERO) for month in history)
            amount = sensible_amount(median)
            if amount:
                recommendations[path] = Recommendation(
                    path,
                    amount,
                    Rule.HISTORY,
                    f"The middle of your monthly {path} spending over {_span(history)} was ${median:,.2f} "
                    f"(a middle value, so one unusually large month does not raise it); rounded up to ${amount:,.0f}.",
                    history,
                    budgets.get(path),
                )
    else:
        entered = budget_profile_for(user=user).monthly_income
        if entered:
            monthly_income, months, source = entered, [], f"${entered:,.2f}, as you entered it"
        elif income:
            months = sorted(income)
            monthly_income = statistics.median(income[month] for month in months)
            source = f"${monthly_income:,.2f}, the middle of {_span(months)}"
        else:
            monthly_income, months, source = ZERO, [], ""
        if monthly_income > 0:
            for path, share in INCOME_TEMPLATE.items():
                amount = sensible_amount(monthly_income * share)
                recommendations[path] = Recommendation(
                    path,
                    amount,
                    Rule.INCOME_TEMPLATE,
                    f"Less than {MIN_HISTORY_MONTHS} months of history, so {share:.0%} of your monthly income "
                    f"({source}); rounded up to ${amount:,.0f}.",
                    months,
                    budgets.get(path),
                )
    return sorted(recommendations.values(), key=lambda rec: (-rec.amount, rec.category))


def _span(months: list[dt.date]) -> str:
    if len(months) == 1:
        return f"{months[0]:%B %Y}"
    return f"{months[0]:%B %Y} to {months[-1]:%B %Y}"
