from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from accounts.selectors import account_list_for_user
from categories.selectors import category_labels
from mint.converters import month_from_query, next_month, previous_month
from mint.db_router import replica_read_path
from mint.http import AuthenticatedHttpRequest
from transactions.selectors import transaction_list_for_user

from . import selectors

RECENT_TRANSACTIONS = 12
ZERO = Decimal("0")


def _percent(part: Decimal, whole: Decimal) -> int:
    return round(max(part, ZERO) * 100 / whole) if whole > 0 else 0


def _budget_rows(
    categories: dict[str, Decimal], budgets: dict[str, Decimal], levels: dict[str, int]
) -> list[dict[str, Any]]:
    """Each budget against what its category (a parent with its children) spent, fullest first."""
    default = settings.BUDGET_ALERT_LEVELS["approaching"]
    rows = []
    for path, budget in budgets.items():
        spent = selectors.spent_in_category(categories, path)
        percent = _percent(spent, budget)
        rows.append(
            {
                "path": path,
                "amount": spent,
                "budget": budget,
                "left": budget - spent,
                "over": spent - budget,
                "percent": percent,
                "width": min(percent, 100),
                "state": "over" if spent > budget else ("near" if percent >= levels.get(path, default) else "ok"),
            }
        )
    return sorted(rows, key=lambda row: (-row["percent"], row["path"]))


def _unbudgeted_rows(categories: dict[str, Decimal], budgets: dict[str, Decimal]) -> list[dict[str, Any]]:
    """Spending categories no budget covers, with bars relative to the largest of them."""
    amounts = {
        path: amount
        for path, amount in categories.items()
        if not any(path == budgeted or path.startswith(f"{budgeted}/") for budgeted in budgets)
    }
    largest = max(amounts.values(), default=ZERO)
    return [{"path": path, "amount": amount, "width": _percent(amount, largest)} for path, amount in amounts.items()]


def _breakdown(summary: selectors.SpendingSummary) -> list[dict[str, Any]]:
    """The month's spending by top-level category (food, transport, ...), largest first."""
    return [
        {"group": row.category, "amount": row.amount, "share": _percent(row.amount, summary.total)}
        for row in summary.breakdown
        if row.count
    ]


@login_required
@replica_read_path
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    this_month = selectors.current_month()
    month = month_from_query(request.GET.get("month")) or this_month
    spending = selectors.spending_for_month(user=request.user, month=month)
    trend = selectors.spending_trend(user=request.user, end_month=month)
    breakdown = _breakdown(spending)
    labels = category_labels()
    chart_data = {
        "trend": {
            "months": [f"{row.month:%Y-%m}" for row in trend],
            "labels": [f"{row.month:%b %Y}" for row in trend],
            "spending": [row.spending for row in trend],
            "income": [row.income for row in trend],
        },
        "breakdown": {
            "labels": [labels.get(row["group"], row["group"]) for row in breakdown if row["amount"] > 0],
            "amounts": [row["amount"] for row in breakdown if row["amount"] > 0],
        },
    }
    accounts = list(account_list_for_user(user=request.user))
    context = {
        "month": month,
        "this_month": this_month,
        "previous_month": previous_month(month),
        "next_month": next_month(month) if month < this_month else None,
        "spending": spending,
        "budget_rows": _budget_rows(
            spending.categories,
            spending.budgets,
            {
                budget.category.path: budget.approaching_level
                for budget in selectors.budget_list_for_user(user=request.user)
            },
        ),
        "rows": _unbudgeted_rows(spending.categories, spending.budgets),
        "trend": list(reversed(trend)),  # the table reads newest first
        "trend_has_data": any(row.spending or row.income for row in trend),
        "breakdown": breakdown,
        "chart_data": chart_data,
        "accounts": accounts,
        "connections": list(
            {account.connection_id: account.connection for account in accounts if account.connection}.values()
        ),
        "recent": transaction_list_for_user(user=request.user, month=month)[:RECENT_TRANSACTIONS],
    }
    return render(request, "budgets/dashboard.html", context)
