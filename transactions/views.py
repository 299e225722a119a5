from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.selectors import account_list_for_user
from categories.selectors import category_get_by_path, category_list
from mint.http import AuthenticatedHttpRequest, safe_next

from . import selectors, services
from .serializers import TransactionFilterSerializer

PAGE_SIZE = 50


@login_required
def transaction_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    filters = TransactionFilterSerializer(data=request.GET)
    errors = {} if filters.is_valid() else filters.errors
    if errors:
        # Keep the filters that are fine: one mistyped amount should not drop the month and the search.
        usable = request.GET.copy()
        for name in errors:
            usable.pop(name, None)
        filters = TransactionFilterSerializer(data=usable)
    chosen = filters.validated_data if filters.is_valid() else {}
    page = Paginator(selectors.transaction_list_for_user(user=request.user, **chosen), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    kept = QueryDict(mutable=True)  # the filters for the pager's links, without the empty ones
    for name, values in request.GET.lists():
        if name != "page" and (given := [value for value in values if value.strip()]):
            kept.setlist(name, given)
    context = {
        "page": page,
        "categories": category_list(),
        "accounts": account_list_for_user(user=request.user),
        "filters": request.GET,
        "filter_query": kept.urlencode(),
        "filter_errors": {name: " ".join(str(problem) for problem in problems) for name, problems in errors.items()},
    }
    return render(request, "transactions/transaction_list.html", context)


@login_required
@require_POST
def transaction_category_change(request: AuthenticatedHttpRequest, txn_id: int) -> HttpResponse:
    txn = selectors.transaction_get_for_user(user=request.user, txn_id=txn_id)
    category = category_get_by_path(request.POST.get("category", ""))
    if category is None:
        messages.error(request, "Choose a category from the list.")
    else:
        always = bool(request.POST.get("always"))
        try:
            # In the browser "always" also tidies the merchant's uncategorized past (the API asks separately).
            services.transaction_recategorize(txn=txn, category=category, always=always, include_past=always)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if always:
                messages.success(request, f"{category.path}, now and from now on, for this merchant.")
            else:
                messages.success(request, f"“{txn.description}” is now in {category.path}.")
    return redirect(safe_next(request, "transactions:list"))
