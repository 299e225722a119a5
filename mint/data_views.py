"""The "Your data" page: export everything as a zip of CSV files, or delete the account. Thin
views over mint.user_data."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .forms import AccountDeleteForm
from .http import AuthenticatedHttpRequest
from .user_data import EXPORT_TABLES, user_data_export, user_data_export_filename, user_delete


@login_required
@require_http_methods(["GET", "POST"])
def your_data(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = AccountDeleteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user_delete(user=request.user, password=form.cleaned_data["password"], request=request)
        except ValidationError as exc:
            for problem in exc.message_dict.get("password", exc.messages):
                form.add_error("password", problem)
        else:
            request.session.flush()  # not logout(): its signal would record a sign-out for a user now gone
            request.user = AnonymousUser()  # type: ignore[assignment]
            messages.success(request, "Your account and all your data are deleted.")
            return redirect("login")
    files = [table.filename for table in EXPORT_TABLES]
    return render(request, "mint/your_data.html", {"form": form, "files": files})


@login_required
@require_GET
def your_data_export(request: AuthenticatedHttpRequest) -> FileResponse:
    return user_data_download(request=request)


def user_data_download(*, request: HttpRequest) -> FileResponse:
    """The signed-in user's data as a zip attachment, for this page and the API."""
    archive, _ = user_data_export(user=request.user, request=request)  # type: ignore[arg-type]
    response = FileResponse(archive, as_attachment=True, filename=user_data_export_filename())
    response["Cache-Control"] = "private, no-store"
    return response
