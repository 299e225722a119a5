from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from accounts.selectors import account_list_for_user
from mint.http import AuthenticatedHttpRequest
from transactions.selectors import transaction_list_for_user

from . import selectors

RECENT_TRANSACTIONS = 12


@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    spending = selectors.spending_for_month(user=request.user)
    budgets = {budget.category.path: budget.amount for budget in selectors.budget_list_for_user(user=request.user)}
    largest = max(spending.categories.values(), default=Decimal("0"))
    rows = [
        {
            "path": path,
            "amount": amount,
            "budget": budgets.get(path),
            "width": round(max(amount, Decimal("0")) * 100 / largest) if largest > 0 else 0,
        }
        for path, amount in spending.categories.items()
    ]
    context = {
        "spending": spending,
        "rows": rows,
        "accounts": account_list_for_user(user=request.user),
        "recent": transaction_list_for_user(user=request.user)[:RECENT_TRANSACTIONS],
    }
    return render(request, "budgets/dashboard.html", context)
