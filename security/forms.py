"""Sign-in and two-factor forms. Every password or code they check goes through the sign-in
limits in security.services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from mint.models import User

from . import services


def _code_input(**attrs: str) -> forms.TextInput:
    # Not inputmode=numeric: a recovery code has letters, and a phone's digit pad cannot type them.
    return forms.TextInput(
        attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false", **attrs}
    )


class SignInForm(AuthenticationForm):
    """Django's sign-in form, with the password checked within the attempt limits."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password and self.request is not None:
            try:
                user = services.sign_in_check_password(request=self.request, username=username, password=password)
            except services.SignInBlocked as blocked:
                raise ValidationError(blocked.message, code="blocked") from None
            if user is None:
                raise self.get_invalid_login_error()
            self.user_cache = user
            self.confirm_login_allowed(user)
        return self.cleaned_data


class _UserCheckForm(forms.Form):
    """A form whose checks run within the sign-in limits: they need the user and the request."""

    def __init__(self, *args: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = user

    def _checked(self, value: str, check: Callable[[], bool], wrong: str, code: str | None = None) -> str:
        """`value` if `check` passes; a field error if it fails, or if the sign-in limits refuse it."""
        try:
            verified = check()
        except (services.SignInBlocked, services.TwoFactorThrottled) as refused:
            raise ValidationError(str(refused), code="blocked") from None
        if not verified:
            raise ValidationError(wrong, code=code)
        return value


class SignInCodeForm(_UserCheckForm):
    """The second step: the app's code, or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=40,
        widget=_code_input(autofocus="autofocus"),
        help_text="The 6-digit code your authenticator app shows now, or one of your recovery codes.",
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        return self._checked(
            code,
            lambda: services.sign_in_check_code(request=self.request, user=self.user, code=code),
            "That code is not right. Codes change every 30 seconds, and each works once.",
        )


class TwoFactorEnableForm(_UserCheckForm):
    """The current password (a stolen session must not lock the owner out with its own app),
    then the new app's code."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label="Code from the app",
        max_length=10,
        widget=_code_input(inputmode="numeric"),
        help_text="The 6-digit code the app shows for Mint, to check it is set up right.",
    )

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        return self._checked(
            password,
            lambda: services.identity_confirm(request=self.request, user=self.user, secret=password, allow_code=False),
            "That is not your password.",
            code="password_incorrect",
        )


class IdentityConfirmForm(_UserCheckForm):
    """The signed-in user's password, or a current code, before a change to how they sign in."""

    secret = forms.CharField(
        label="Your password, or a code",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Your password, a code from your authenticator app, or a recovery code.",
    )

    def clean_secret(self) -> str:
        secret = self.cleaned_data["secret"]
        return self._checked(
            secret,
            lambda: services.identity_confirm(request=self.request, user=self.user, secret=secret),
            "That is neither your password nor a current code.",
        )


class LimitedPasswordChangeForm(PasswordChangeForm):
    """Django's password change, with the old password checked within the sign-in limits."""

    def __init__(self, user: User, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        try:
            verified = services.identity_confirm(
                request=self.request, user=self.user, secret=old_password, allow_code=False
            )
        except services.SignInBlocked as blocked:
            raise ValidationError(blocked.message, code="blocked") from None
        if not verified:
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password
