"""Statement file pages: upload a file; for a CSV, check how its columns read, then import it.

The pages mirror the uploads API (transactions/api.py UploadViewSet) over the same services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.forms import MAPPING_COLUMNS, CsvMappingForm, StatementUploadForm
from accounts.models import Account
from accounts.providers.base import ProviderError, StatementLine
from accounts.providers.csv_file import PREVIEW_ROWS
from accounts.providers.files import CsvMapping
from accounts.selectors import account_list_for_user
from mint.http import AuthenticatedHttpRequest
from mint.models import User

from . import selectors, services
from .models import RawPayload

ROLE_LABELS = {"external_id": "id"}  # a role's label over its column; the others read as their names


def _file_account_names(user: User) -> list[str]:
    accounts = account_list_for_user(user=user).filter(connection__isnull=True)
    return list(accounts.values_list("name", flat=True))


def _imported(
    request: AuthenticatedHttpRequest, result: services.ImportResult, account: Account | None
) -> HttpResponse:
    name = account.name if account is not None else "the account"
    messages.success(
        request,
        f"{result.new:,} new transaction{'' if result.new == 1 else 's'} imported into {name} "
        f"({result.existing:,} already there).",
    )
    if account is None:
        return redirect("accounts:list")
    return redirect(f"{reverse('transactions:list')}?{urlencode({'account': account.pk})}")


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    posted = request.POST if request.method == "POST" else None
    form = StatementUploadForm(
        posted, request.FILES if posted is not None else None, initial={"account_name": request.GET.get("account", "")}
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        name = form.cleaned_data["account_name"]
        try:
            payload = services.file_upload(user=request.user, raw=upload.read(), filename=upload.name or "")
            if payload.file_format == "csv":
                # Read once here, so a file with no date or amount column is refused next to the field.
                services.uploaded_file_preview(payload=payload)
                preview_url = reverse("transactions:upload-preview", kwargs={"pk": payload.pk})
                return redirect(f"{preview_url}?{urlencode({'account': name})}")
            result = services.uploaded_file_import(payload=payload, account_name=name)
        except ValidationError as exc:
            form.add_error("file", exc.messages)
        else:
            payload.refresh_from_db(fields=["account"])
            return _imported(request, result, payload.account)
    context = {
        "form": form,
        "account_names": _file_account_names(request.user),
        "max_mb": f"{settings.IMPORT_MAX_BYTES / (1024 * 1024):g}",
    }
    return render(request, "transactions/upload.html", context)


@dataclass(frozen=True)
class Column:
    header: str
    role: str  # what the mapping reads from it, "" for nothing


def _columns(headers: list[str], mapping: dict[str, Any]) -> list[Column]:
    roles = {mapping[role]: ROLE_LABELS.get(role, role) for role in MAPPING_COLUMNS if mapping.get(role) is not None}
    return [Column(header, roles.get(index, "")) for index, header in enumerate(headers)]


@login_required
@require_http_methods(["GET", "POST"])
def upload_preview(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A CSV upload as it will be imported; the user can change how its columns are read, then import."""
    payload = get_object_or_404(selectors.upload_list_for_user(user=request.user), pk=pk)
    if payload.status == RawPayload.Status.IMPORTED:
        account = payload.account
        messages.info(request, f"{payload.filename or 'This file'} is already imported into {account or 'an account'}.")
        if account is None:
            return redirect("accounts:list")
        return redirect(f"{reverse('transactions:list')}?{urlencode({'account': account.pk})}")
    if payload.file_format != "csv":
        messages.error(request, "Only CSV files have a preview: upload the file again to import it.")
        return redirect("transactions:upload")
    context: dict[str, Any] = {"payload": payload, "account_names": _file_account_names(request.user)}
    try:
        preview = services.uploaded_file_preview(payload=payload)
    except ValidationError as exc:
        context["unreadable"] = " ".join(exc.messages)
        return render(request, "transactions/upload_preview.html", context)

    initial = {**preview.mapping.to_dict(), "account_name": request.GET.get("account", "")}
    posted = request.POST if request.method == "POST" else None
    form = CsvMappingForm(posted, headers=preview.headers, initial=initial)
    mapping: CsvMapping | None = preview.mapping
    if request.method == "POST":
        mapping = form.mapping()
        if mapping is not None and "import" in request.POST:
            name = form.cleaned_data["account_name"].strip()
            if not name:
                form.add_error("account_name", "Name the account these transactions belong to.")
            elif (result := _import(payload, name, mapping, form)) is not None:
                payload.refresh_from_db(fields=["account"])
                return _imported(request, result, payload.account)
    # The whole file read with the mapping shown, so a bad row far down is reported before the import.
    lines: list[StatementLine] = []
    total: int | None = None
    error = ""
    if mapping is not None:
        try:
            parsed = services.uploaded_csv_lines(payload=payload, mapping=mapping)
        except ProviderError as exc:
            error = str(exc)
            if mapping == preview.mapping:
                lines = preview.lines  # the first rows that did read
        else:
            lines, total = parsed[:PREVIEW_ROWS], len(parsed)
    # The detection's notes (how it read ambiguous dates, say) are about the detected mapping only.
    notes = [note for note in preview.problems if note != error] if mapping == preview.mapping else []
    shown = (mapping or preview.mapping).to_dict()
    context.update(
        {
            "form": form,
            "mapping_fields": [form[name] for name in MAPPING_COLUMNS],
            "mapping_errors": any(form[name].errors for name in (*MAPPING_COLUMNS, "date_style")),
            "columns": _columns(preview.headers, shown),
            "rows": preview.rows,
            "lines": lines,
            "notes": notes,
            "error": error,
            "total": total,
            "currency": preview.currency,
        }
    )
    return render(request, "transactions/upload_preview.html", context)


def _import(
    payload: RawPayload, account_name: str, mapping: CsvMapping, form: CsvMappingForm
) -> services.ImportResult | None:
    try:
        return services.uploaded_file_import(payload=payload, account_name=account_name, mapping=mapping)
    except ValidationError as exc:
        form.add_error(None, exc.messages)
        return None
