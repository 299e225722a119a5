from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import account_list_for_user
from categories.selectors import category_get_by_path, category_label, category_list
from mint.db_router import replica_read_path
from mint.downloads import csv_streaming_response
from mint.http import AuthenticatedHttpRequest, safe_next

from . import exports, selectors, services
from .serializers import TransactionFilterSerializer

PAGE_SIZE = 50


def _filters_chosen(query: QueryDict) -> tuple[dict[str, Any], dict[str, Any]]:
    """The usable filters of the query, and the problems of the others.

    Keeps the filters that are fine: one mistyped amount should not drop the month and the
    search. The list and its CSV download both read their filters here, so the download
    holds exactly what the page shows.
    """
    filters = TransactionFilterSerializer(data=query)
    errors = {} if filters.is_valid() else filters.errors
    if errors:
        usable = query.copy()
        for name in errors:
            usable.pop(name, None)
        filters = TransactionFilterSerializer(data=usable)
    return (filters.validated_data if filters.is_valid() else {}), errors


@login_required
@replica_read_path
def transaction_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    chosen, errors = _filters_chosen(request.GET)
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
@require_GET
def transaction_export(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """The list under its current filters and search, every page of it, as a CSV download."""
    chosen, _ = _filters_chosen(request.GET)
    export = exports.transaction_export(user=request.user, filters=chosen, request=request)
    return csv_streaming_response(filename=export.filename, header=exports.TRANSACTION_CSV_HEADER, rows=export.rows)


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
                messages.success(request, f"{category_label(category.path)}, now and from now on, for this merchant.")
            else:
                messages.success(request, f"“{txn.description}” is now in {category_label(category.path)}.")
    return redirect(safe_next(request, "transactions:list"))
