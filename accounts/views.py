from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from mint.http import AuthenticatedHttpRequest

from . import selectors, services
from .forms import ConnectForm, connect_error_field
from .providers.base import ProviderError


@login_required
def account_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(
        request, "accounts/account_list.html", {"accounts": selectors.account_list_for_user(user=request.user)}
    )


@login_required
@require_http_methods(["GET", "POST"])
def connect(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_create(
                user=request.user,
                url=form.cleaned_data["account_url"],
                login=form.cleaned_data["account_login"],
                password=form.cleaned_data["account_password"],
            )
        except ProviderError as exc:
            form.add_error(connect_error_field(exc), str(exc))
        except services.AlreadyLinked as exc:
            form.add_error(None, str(exc))
        else:
            count = connection.accounts.count()
            messages.success(request, f"Linked {count} account{'s' if count != 1 else ''}. Importing transactions now.")
            return redirect("dashboard")
    return render(request, "accounts/connect.html", {"form": form})
