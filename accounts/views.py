"""The pages where users link, watch and manage their connections: thin views over accounts.services."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.forms import Form
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mint.http import AuthenticatedHttpRequest, safe_next
from security.models import AuditEvent

from . import selectors, services
from .audit import connection_audit_record
from .demo_bank.simplefin import demo_secret, demo_setup_token
from .forms import (
    ConnectForm,
    DisconnectForm,
    OfxCredentialsForm,
    SimpleFinConnectForm,
    SimpleFinCredentialsForm,
    connect_error_field,
    ofx_connect_arguments,
)
from .models import Connection, SyncJob
from .providers.base import ProviderError


@dataclass(frozen=True)
class ConnectionCard:
    connection: Connection
    job: SyncJob | None  # the latest refresh, finished or not


def _connection_for_user(request: AuthenticatedHttpRequest, pk: int) -> Connection:
    """One of the user's connections; another user's is a 404, as if it did not exist."""
    return get_object_or_404(selectors.connection_list_for_user(user=request.user), pk=pk)


def _posted(request: AuthenticatedHttpRequest) -> QueryDict | None:
    """The form data of a POST (even an empty one, which must show "required"), None for a GET."""
    return request.POST if request.method == "POST" else None


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


@login_required
@require_GET
def account_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    cards = [
        # latest_jobs: prefetched by the selector (a Prefetch to_attr, which the stubs cannot see).
        ConnectionCard(connection, next(iter(connection.latest_jobs), None))  # type: ignore[attr-defined]
        for connection in selectors.connection_list_for_user(user=request.user)
    ]
    file_accounts = selectors.account_list_for_user(user=request.user).filter(connection__isnull=True)
    context = {
        "cards": cards,
        "file_accounts": list(file_accounts),
        "now": timezone.now(),
        # The status script is only loaded while a job is in flight: a settled page makes no requests.
        "polling": any(card.job is not None and card.job.in_flight for card in cards),
    }
    return render(request, "accounts/account_list.html", context)


def _linked(request: AuthenticatedHttpRequest, connection: Connection) -> HttpResponse:
    connection_audit_record(
        action=AuditEvent.Action.CONNECTION_LINKED,
        user=request.user,
        request=request,
        connection_id=connection.pk,
        institution=connection.display_name,
    )
    count = connection.accounts.count()
    messages.success(
        request,
        f"Linked {_plural(count, 'account')} at {connection.display_name}. Importing transactions now.",
    )
    return redirect(f"{reverse('accounts:list')}#connection-{connection.pk}")


@login_required
@require_http_methods(["GET", "POST"])
def connect(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ConnectForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            connection = services.connection_create(user=request.user, **ofx_connect_arguments(values))
        except ProviderError as exc:
            field = connect_error_field(exc)
            if field == "account_url" and values.get("institution"):
                field = "institution"  # the directory's URL failed, not one the user typed
            form.add_error(field, str(exc))
        except services.AlreadyLinked as exc:
            form.add_error(None, str(exc))
        else:
            return _linked(request, connection)
    return render(request, "accounts/connect.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def connect_simplefin(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SimpleFinConnectForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.simplefin_connection_create(
                user=request.user, setup_token=form.cleaned_data["setup_token"].strip()
            )
        except ProviderError as exc:
            # Every SimpleFIN failure (a used token, an unreachable bridge) is about the token.
            form.add_error("setup_token", str(exc))
        except services.AlreadyLinked as exc:
            form.add_error(None, str(exc))
        else:
            return _linked(request, connection)
    demo_token = ""
    if settings.DEMO_MODE:
        bridge = f"http://127.0.0.1:{settings.DEMO_SIMPLEFIN_PORT}/simplefin"
        demo_token = demo_setup_token(bridge, demo_secret())
    return render(request, "accounts/connect_simplefin.html", {"form": form, "demo_token": demo_token})


@login_required
@require_POST
def refresh(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    connection = _connection_for_user(request, pk)
    try:
        _, created = services.connection_refresh(connection=connection)
    except services.RefreshTooSoon as exc:
        messages.error(
            request, f"{connection.display_name} was refreshed moments ago, try again in {exc.retry_after} s."
        )
    else:
        if created:
            messages.success(request, f"Refreshing {connection.display_name}…")
        else:
            messages.info(request, f"{connection.display_name} is already refreshing…")
    return redirect(safe_next(request, f"{reverse('accounts:list')}#connection-{connection.pk}"))


@login_required
@require_http_methods(["GET", "POST"])
def credentials(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    connection = _connection_for_user(request, pk)
    simplefin = connection.provider == Connection.Provider.SIMPLEFIN
    data = _posted(request)
    form: Form = SimpleFinCredentialsForm(data) if simplefin else OfxCredentialsForm(data)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            services.connection_credentials_replace(
                connection=connection,
                login=values.get("account_login", ""),
                password=values.get("account_password", ""),
                setup_token=values.get("setup_token", "").strip(),
            )
        except ProviderError as exc:
            field = connect_error_field(exc)
            if simplefin:
                field = "setup_token"
            elif field == "account_url":
                field = None  # the bank's address is not on this form: say it above the fields
            form.add_error(field, str(exc))
        else:
            connection_audit_record(
                action=AuditEvent.Action.CREDENTIALS_REPLACED,
                user=request.user,
                request=request,
                connection_id=connection.pk,
                institution=connection.display_name,
            )
            messages.success(request, "Credentials updated; refreshing now.")
            return redirect(f"{reverse('accounts:list')}#connection-{connection.pk}")
    return render(request, "accounts/credentials.html", {"connection": connection, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def disconnect(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    connection = _connection_for_user(request, pk)
    form = DisconnectForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        keep = form.cleaned_data["history"] == "keep"
        name, connection_id = connection.display_name, connection.pk
        count = len(connection.accounts.all())
        services.connection_disconnect(connection=connection, keep_history=keep)
        connection_audit_record(
            action=AuditEvent.Action.CONNECTION_REMOVED,
            user=request.user,
            request=request,
            connection_id=connection_id,
            institution=name,
        )
        if keep:
            messages.success(
                request,
                f"Disconnected {name}. Its {_plural(count, 'account')} and their transactions stay, "
                "filled from files from now on.",
            )
        else:
            messages.success(request, f"Disconnected {name} and deleted its {_plural(count, 'account')}.")
        return redirect("accounts:list")
    accounts = connection.accounts.annotate(txn_count=Count("transactions")).order_by("name", "id")
    return render(
        request,
        "accounts/disconnect.html",
        {"connection": connection, "accounts": accounts, "form": form},
    )
