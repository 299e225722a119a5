"""The budgets page: progress, last month and the month-end pace; set, change and remove; recommendations."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import account_list_for_user
from categories.models import Category
from categories.selectors import category_label
from mint.http import AuthenticatedHttpRequest

from . import services
from .forms import BudgetChangeForm, BudgetForm, BudgetPreferencesForm, RecommendationAcceptForm
from .progress import BudgetProgress, budget_progress
from .recommendations import budget_recommendations
from .selectors import approaching_default, budget_list_for_user, budget_profile_for


@dataclass(frozen=True)
class BudgetItem:
    progress: BudgetProgress
    form: BudgetChangeForm


def _change_form(
    budget_id: int, data: QueryDict | None = None, initial: dict[str, Any] | None = None, *, default: int
) -> BudgetChangeForm:
    # Every row has its own form on the page: the ids must differ, the field names need not.
    return BudgetChangeForm(data, auto_id=f"budget-{budget_id}-%s", initial=initial, default_approaching=default)


def _add_form(data: QueryDict | None = None, *, default: int) -> BudgetForm:
    return BudgetForm(data, auto_id="add-%s", default_approaching=default)


def _page(
    request: AuthenticatedHttpRequest,
    *,
    add_form: BudgetForm | None = None,
    change_form: tuple[int, BudgetChangeForm] | None = None,
    preferences_form: BudgetPreferencesForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The page, with a submitted form that failed (and its errors) in place of its blank one."""
    today = timezone.localdate()
    default = approaching_default(user=request.user)
    rows = budget_progress(user=request.user, today=today)
    items = [
        BudgetItem(
            row,
            change_form[1]
            if change_form and change_form[0] == row.budget_id
            else _change_form(
                row.budget_id,
                initial={"amount": row.amount, "approaching_percent": row.approaching_percent},
                default=default,
            ),
        )
        for row in rows
    ]
    if add_form:
        add_form.focus_first_error()
    if change_form:
        change_form[1].focus_first_error()
    add_form = add_form or _add_form(default=default)
    add_form.limit_categories({row.category for row in rows})
    recommendations = budget_recommendations(user=request.user)
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    context = {
        "today": today,
        "days_in_month": days_in_month,
        "days_left": days_in_month - today.day,
        "items": items,
        "over_count": sum(row.state == "over" for row in rows),
        "add_form": add_form,
        "preferences_form": preferences_form or BudgetPreferencesForm(initial=_preferences_initial(request.user)),
        "recommendations": recommendations,
        "to_accept": [rec for rec in recommendations if rec.current_budget != rec.amount],
        "replaces": [rec for rec in recommendations if rec.current_budget not in (None, rec.amount)],
        # Only asked when the page is empty: it decides between "link an account" and "wait for history".
        "has_accounts": bool(rows or recommendations) or account_list_for_user(user=request.user).exists(),
    }
    return render(request, "budgets/budget_list.html", context, status=status)


@login_required
@require_GET
def budget_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def budget_save(request: AuthenticatedHttpRequest, budget_id: int | None = None) -> HttpResponse:
    """Without an id, set a budget on the chosen category (new, or replacing its budget);
    with one, change that budget of the user's (another user's id is a 404)."""
    default = approaching_default(user=request.user)
    if budget_id is None:
        add_form = _add_form(request.POST, default=default)
        if add_form.is_valid() and _save(
            request,
            add_form,
            category=add_form.cleaned_data["category"],
            approaching_percent=add_form.cleaned_data["approaching_percent"],
        ):
            return redirect("budgets:list")
        return _page(request, add_form=add_form, status=400)
    budget = get_object_or_404(budget_list_for_user(user=request.user), pk=budget_id)
    form = _change_form(budget.pk, request.POST, default=default)
    if form.is_valid():
        # Emptied: back to the default. Unchanged: None, so a default level stays the default.
        percent = form.cleaned_data["approaching_percent"] or default
        if _save(
            request,
            form,
            category=budget.category,
            approaching_percent=None if percent == budget.approaching_level else percent,
        ):
            return redirect("budgets:list")
    return _page(request, change_form=(budget.pk, form), status=400)


def _save(
    request: AuthenticatedHttpRequest,
    form: BudgetChangeForm,
    *,
    category: Category,
    approaching_percent: int | None,
) -> bool:
    """Set the budget and say so; False, with the service's errors on the form, when it refused."""
    try:
        budget, created = services.budget_set(
            user=request.user,
            category=category,
            amount=form.cleaned_data["amount"],
            approaching_percent=approaching_percent,
        )
    except ValidationError as exc:
        # Field errors next to their fields when the form has them, else above the form.
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return False
    if created:
        messages.success(request, f"Added a ${budget.amount:,.2f} monthly budget for {category_label(category.path)}.")
    else:
        messages.success(
            request,
            f"Your {category_label(category.path)} budget is now ${budget.amount:,.2f} a month, "
            f"with an alert at {budget.approaching_level}%.",
        )
    return True


@login_required
@require_POST
def budget_remove(request: AuthenticatedHttpRequest, budget_id: int) -> HttpResponse:
    budget = get_object_or_404(budget_list_for_user(user=request.user), pk=budget_id)
    services.budget_delete(budget=budget)
    messages.success(request, f"Removed your {category_label(budget.category.path)} budget.")
    return redirect("budgets:list")


@login_required
@require_POST
def recommendations_accept(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = RecommendationAcceptForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a recommendation to accept.")
        return redirect("budgets:list")
    try:
        budgets = services.budget_recommendations_accept(user=request.user, categories=form.categories)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("budgets:list")
    if not budgets:
        messages.error(request, "There are no recommendations to accept yet.")
    elif form.categories is None:
        messages.success(
            request, f"Set {len(budgets)} budget{'s' if len(budgets) != 1 else ''} from the recommendations."
        )
    else:
        budget = budgets[0]
        messages.success(
            request, f"Your {category_label(budget.category.path)} budget is now ${budget.amount:,.2f} a month."
        )
    return redirect("budgets:list")


def _preferences_initial(user) -> dict[str, Any]:
    profile = budget_profile_for(user=user)
    return {"monthly_income": profile.monthly_income, "approaching_percent": profile.approaching_percent}


@login_required
@require_POST
def budget_preferences_save(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = BudgetPreferencesForm(request.POST)
    if not form.is_valid():
        return _page(request, preferences_form=form, status=400)
    services.budget_profile_update(user=request.user, **form.cleaned_data)
    messages.success(request, "Your budget settings are saved.")
    return redirect("budgets:list")
