"""The security page: sections for API tokens and recent activity (others add theirs by include)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mint.http import AuthenticatedHttpRequest
from mint.models import User

from . import selectors, services
from .forms import IdentityConfirmForm, LimitedPasswordChangeForm, SignInCodeForm, SignInForm, TwoFactorEnableForm
from .models import AuditEvent
from .user_agents import user_agent_summary

RECENT_ACTIVITY = 50


@dataclass(frozen=True)
class ActivityRow:
    event: AuditEvent
    about: str  # the token, bank or file the event concerns, from its detail
    browser: str


def _about(detail: dict) -> str:
    """What an event was about, in words: names only, as audit_record keeps them."""
    if "institution" in detail:
        return str(detail["institution"])
    if "prefix" in detail:
        return f"“{detail.get('name', '')}” ({detail['prefix']}…)"
    return str(detail.get("name", ""))


@login_required
@require_GET
def security_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    events = selectors.audit_event_list_for_user(user=request.user)[:RECENT_ACTIVITY]
    context = {
        "api_tokens": list(selectors.api_token_list_for_user(user=request.user)),
        "activity": [
            ActivityRow(event, _about(event.detail), user_agent_summary(event.user_agent)) for event in events
        ],
        "now": timezone.now(),
        "two_factor_enabled": services.two_factor_is_enabled(user=request.user),
        "recovery_codes_left": services.recovery_codes_left(user=request.user),
    }
    return render(request, "security/page.html", context)


@login_required
@require_POST
def api_token_revoke(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(selectors.api_token_list_for_user(user=request.user), pk=token_id)
    services.api_token_revoke(token=token, request=request)
    messages.success(request, f"Revoked “{token.name}”: apps using it are signed out.")
    return redirect(f"{reverse('security:page')}#api-tokens")


# Signing in: Django's LoginView with the attempt limits, then a code for users with two-factor.

_PENDING_SIGN_IN = "security:pending_sign_in"  # the session key between the password and the code


class SignInView(auth_views.LoginView):
    """Django's LoginView, its password checked within the limits. A user with two-factor sign-in
    is not signed in yet: the session only remembers who passed the password, for a few minutes."""

    form_class = SignInForm

    def form_valid(self, form: SignInForm) -> HttpResponse:  # type: ignore[override]
        user = form.get_user()
        if not services.two_factor_is_enabled(user=user):
            return super().form_valid(form)
        self.request.session.cycle_key()
        self.request.session[_PENDING_SIGN_IN] = {
            "user_id": user.pk,
            "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[0]),
            "at": time.time(),
            "next": self.get_success_url(),
        }
        return redirect("security:sign-in-code")


sign_in = SignInView.as_view()


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_code(request: HttpRequest) -> HttpResponse:
    pending: dict[str, Any] = request.session.get(_PENDING_SIGN_IN) or {}
    user = None
    if pending and time.time() - pending["at"] < settings.LOGIN_CODE_STEP_SECONDS:
        user = User._default_manager.filter(pk=pending["user_id"], is_active=True).first()
    if user is None:
        request.session.pop(_PENDING_SIGN_IN, None)
        messages.info(request, "Please sign in again.")
        return redirect("login")
    form = SignInCodeForm(request.POST or None, request=request, user=user)
    if request.method == "POST" and form.is_valid():
        del request.session[_PENDING_SIGN_IN]
        login(request, user, backend=pending["backend"])
        return redirect(pending["next"])
    return render(request, "security/sign_in_code.html", {"form": form})


@require_GET
def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """The admin signs in on the site's own page: the same limits, and the code for two-factor
    users (the admin's own form would take a password alone)."""
    next_url = request.GET.get("next") or reverse("admin:index")
    return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")


# Two-factor settings.


def _codes_page(request: HttpRequest, codes: list[str], *, heading: str) -> HttpResponse:
    """The recovery codes, this once: rendered into the answer, never stored or redirected."""
    response = render(request, "security/recovery_codes.html", {"codes": codes, "heading": heading})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@sensitive_post_parameters("password", "code")
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: AuthenticatedHttpRequest) -> HttpResponse:
    if services.two_factor_is_enabled(user=request.user):
        return redirect(f"{reverse('security:page')}#two-factor")
    device = services.two_factor_setup_device(user=request.user)
    form = TwoFactorEnableForm(request.POST or None, request=request, user=request.user)
    if request.method == "POST" and form.is_valid():
        codes = services.two_factor_enable(user=request.user, code=form.cleaned_data["code"], request=request)
        if codes is not None:
            messages.success(request, "Two-factor sign-in is on.")
            return _codes_page(request, codes, heading="Two-factor sign-in is on")
        form.add_error("code", "That code is not right. Check the app shows the code for Mint, and try the next one.")
    qr_svg = segno.make(device.config_url, error="m").svg_inline(
        scale=4, border=2, light="#fff", svgclass="qr", title="QR code for your authenticator app"
    )
    # segno's own markup: the address (username included) is only in the drawn modules, never text.
    context = {"form": form, "secret": services.two_factor_secret(device=device), "qr_svg": mark_safe(qr_svg)}  # noqa: S308
    response = render(request, "security/two_factor_setup.html", context)
    response["Cache-Control"] = "no-store"  # the page shows the secret
    return response


@login_required
@sensitive_post_parameters("secret")
@require_http_methods(["GET", "POST"])
def two_factor_disable(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not services.two_factor_is_enabled(user=request.user):
        return redirect(f"{reverse('security:page')}#two-factor")
    form = IdentityConfirmForm(request.POST or None, request=request, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.two_factor_disable(user=request.user, request=request)
        messages.success(request, "Two-factor sign-in is off. Your recovery codes no longer work.")
        return redirect(f"{reverse('security:page')}#two-factor")
    return render(request, "security/two_factor_disable.html", {"form": form})


@login_required
@sensitive_post_parameters("secret")
@require_http_methods(["GET", "POST"])
def recovery_codes_regenerate(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not services.two_factor_is_enabled(user=request.user):
        return redirect(f"{reverse('security:page')}#two-factor")
    form = IdentityConfirmForm(request.POST or None, request=request, user=request.user)
    if request.method == "POST" and form.is_valid():
        codes = services.recovery_codes_regenerate(user=request.user, request=request)
        return _codes_page(request, codes, heading="New recovery codes")
    return render(request, "security/recovery_codes_regenerate.html", {"form": form})


# Passwords: Django's views, with the sign-in limits on the old password and the audit log.


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = LimitedPasswordChangeForm
    template_name = "security/password_change.html"
    success_url = reverse_lazy("security:page")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form: LimitedPasswordChangeForm) -> HttpResponse:  # type: ignore[override]
        with transaction.atomic():  # the new password and the revoked API tokens, together
            response = super().form_valid(form)
            services.password_changed(user=form.user, request=self.request)
        messages.success(
            self.request,
            "Your password is changed. Other browsers and apps signed in as you are signed out.",
        )
        return response


password_change = PasswordChangeView.as_view()


class PasswordResetView(auth_views.PasswordResetView):
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("security:password-reset-done")

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:  # type: ignore[override]
        for user in form.get_users(form.cleaned_data["email"]):
            services.password_reset_requested(user=user, request=self.request)  # type: ignore[arg-type]
        # Links go to SITE_URL, never to whatever Host header the request came with.
        self.extra_email_context = {"site_url": settings.SITE_URL.rstrip("/")}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choosing the new password does not sign in: a user with two-factor still needs the code."""

    success_url = reverse_lazy("security:password-reset-complete")

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:  # type: ignore[override]
        with transaction.atomic():  # the new password and the revoked API tokens, together
            response = super().form_valid(form)
            services.password_reset_completed(user=form.user, request=self.request)  # type: ignore[arg-type]
        return response


password_reset = PasswordResetView.as_view()
password_reset_done = auth_views.PasswordResetDoneView.as_view()
password_reset_confirm = PasswordResetConfirmView.as_view()
password_reset_complete = auth_views.PasswordResetCompleteView.as_view()
