from django import forms

from .providers.base import ProviderAuthError, ProviderError, ProviderUnavailable
from .providers.http import UnsafeURL

# OFX allows a USERID of at most 32 characters and a USERPASS of at most 171.
LOGIN_MAX_LENGTH = 32
PASSWORD_MAX_LENGTH = 171


class ConnectForm(forms.Form):
    account_url = forms.URLField(label="Bank's OFX URL", max_length=500, assume_scheme="https")
    account_login = forms.CharField(label="Login", max_length=LOGIN_MAX_LENGTH)
    account_password = forms.CharField(
        label="Password", max_length=PASSWORD_MAX_LENGTH, strip=False, widget=forms.PasswordInput
    )


def connect_error_field(exc: ProviderError) -> str | None:
    """The connect field a provider error is about (the API uses the same names); None for the whole form."""
    if isinstance(exc, ProviderAuthError):
        return "account_password"
    if isinstance(exc, UnsafeURL | ProviderUnavailable):
        return "account_url"
    return None
