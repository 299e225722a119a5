from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from mint.http import AuthenticatedHttpRequest

from . import selectors, services


@login_required
def rule_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = {"rules": selectors.user_rule_list_for_user(user=request.user), "categories": selectors.category_list()}
    return render(request, "categories/rule_list.html", context)


@login_required
@require_POST
def rule_update(request: AuthenticatedHttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(selectors.user_rule_list_for_user(user=request.user), pk=rule_id)
    if request.POST.get("delete"):
        services.user_rule_delete(rule=rule)
        messages.success(request, f"{rule.merchant_name} will no longer be categorized by a rule.")
        return redirect("categories:rules")
    category = selectors.category_get_by_path(request.POST.get("category", ""))
    if category is None:
        messages.error(request, "Choose a category from the list.")
    else:
        services.user_rule_set(
            user_id=request.user.pk, merchant_key=rule.merchant_key, merchant_name=rule.merchant_name, category=category
        )
        label = selectors.category_label(category.path)
        messages.success(request, f"New {rule.merchant_name} transactions will go to {label}.")
    return redirect("categories:rules")
