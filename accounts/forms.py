from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings

from .models import Institution, OfxVersion
from .providers.base import ProviderAuthError, ProviderError, ProviderUnavailable
from .providers.csv_file import DATE_STYLES
from .providers.files import CsvMapping
from .providers.http import UnsafeURL
from .providers.ofx import ACCOUNT_TYPES
from .selectors import institution_search

# OFX allows a USERID of at most 32 characters and a USERPASS of at most 171.
LOGIN_MAX_LENGTH = 32
PASSWORD_MAX_LENGTH = 171
SETUP_TOKEN_MAX_LENGTH = 2000  # a base64 claim URL; the API allows the same


def _login_field() -> forms.CharField:
    return forms.CharField(
        label="Login",
        max_length=LOGIN_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
        help_text="The user name or id you sign in to your bank's website with.",
    )


def _password_field() -> forms.CharField:
    # autocomplete=new-password: the browser must not fill in the user's password for *this* site.
    return forms.CharField(
        label="Password",
        max_length=PASSWORD_MAX_LENGTH,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


def _setup_token_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=SETUP_TOKEN_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 34, "spellcheck": "false", "autocomplete": "off"}),
    )


class ConnectForm(forms.Form):
    """Link a bank by OFX Direct Connect: a bank from the directory, or its URL and OFX details."""

    institution = forms.ModelChoiceField(
        label="Your bank",
        queryset=Institution.objects.none(),
        required=False,
        empty_label="My bank is not listed",
    )
    account_url = forms.URLField(
        label="Bank's OFX URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="Only if your bank is not listed. Banks publish it for Quicken and similar apps; "
        "ofxhome.com lists many.",
        widget=forms.URLInput(attrs={"placeholder": "https://ofx.example-bank.com/ofx", "inputmode": "url"}),
    )
    # The OFX details: most banks need none of them; the ones that do publish them with their URL.
    ofx_org = forms.CharField(label="ORG", max_length=32, required=False)
    ofx_fid = forms.CharField(label="FID", max_length=32, required=False)
    bank_id = forms.CharField(label="Bank id", max_length=32, required=False, help_text="The routing number")
    ofx_version = forms.TypedChoiceField(
        label="OFX version",
        choices=OfxVersion.choices,
        coerce=int,
        required=False,
        empty_value=None,
        initial=OfxVersion.V220,
    )
    app_id = forms.CharField(
        label="APPID", max_length=5, required=False, help_text="e.g. QWIN, if your bank only answers Quicken"
    )
    app_version = forms.CharField(label="APPVER", max_length=4, required=False, help_text="e.g. 2700")
    account_id = forms.CharField(
        label="Account number",
        max_length=22,
        required=False,
        help_text="Only if your bank cannot list your accounts itself",
    )
    account_type = forms.ChoiceField(label="Account type", choices=list(ACCOUNT_TYPES.items()), required=False)
    account_login = _login_field()
    account_password = _password_field()

    ADVANCED = ("ofx_org", "ofx_fid", "bank_id", "ofx_version", "app_id", "app_version", "account_id", "account_type")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        institutions = institution_search()
        if institutions.exists():
            self.fields["institution"].queryset = institutions  # type: ignore[attr-defined]
        else:
            del self.fields["institution"]  # an empty directory: the URL is the only way
            self.fields["account_url"].help_text = "Banks publish it for Quicken and similar apps."

    def clean_account_type(self) -> str:
        return self.cleaned_data["account_type"] or "CHECKING"

    def clean_ofx_version(self) -> int:
        return self.cleaned_data["ofx_version"] or OfxVersion.V220

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("institution") and not data.get("account_url") and "account_url" not in self.errors:
            message = "Type your bank's OFX URL." if "institution" not in self.fields else None
            self.add_error("account_url", message or "Choose your bank from the list, or type its OFX URL.")
        return data

    def advanced_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.ADVANCED]

    def advanced_has_errors(self) -> bool:
        return any(self[name].errors for name in self.ADVANCED)

    def advanced_changed(self) -> bool:
        """Whether the user filled in an OFX detail (the section then stays open)."""
        if not self.is_bound:
            return False
        return any(name in self.changed_data for name in self.ADVANCED)


class SimpleFinConnectForm(forms.Form):
    setup_token = _setup_token_field("Setup token")


class OfxCredentialsForm(forms.Form):
    """A new login for an OFX connection; the field names match ConnectForm's, so errors land alike."""

    account_login = _login_field()
    account_password = _password_field()


class SimpleFinCredentialsForm(forms.Form):
    setup_token = _setup_token_field("New setup token")


class DisconnectForm(forms.Form):
    # No initial value: deleting transactions cannot be undone, so the user must pick one.
    history = forms.ChoiceField(
        label="What happens to the accounts",
        choices=[
            ("keep", "Keep the accounts and their transactions (they stop updating)"),
            ("delete", "Delete the accounts and all their transactions"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose whether to keep or delete the accounts."},
    )


def ofx_connect_arguments(values: dict[str, Any]) -> dict[str, Any]:
    """`connection_create`'s arguments from the connect form's or the API's data (the same field names)."""
    return {
        "institution": values.get("institution"),
        "url": values.get("account_url") or "",
        "login": values["account_login"],
        "password": values["account_password"],
        "org": values["ofx_org"],
        "fid": values["ofx_fid"],
        "bank_id": values["bank_id"],
        "ofx_version": values["ofx_version"],
        "app_id": values["app_id"],
        "app_version": values["app_version"],
        "account_id": values["account_id"],
        "account_type": values["account_type"],
    }


def connect_error_field(exc: ProviderError) -> str | None:
    """The connect field a provider error is about (the API uses the same names); None for the whole form."""
    if isinstance(exc, ProviderAuthError):
        return "account_password"
    if isinstance(exc, UnsafeURL | ProviderUnavailable):
        return "account_url"
    return None


# Statement files ------------------------------------------------------------------------------


def _account_name_field(*, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label="Account",
        max_length=120,
        required=required,
        widget=forms.TextInput(attrs={"list": "file-account-names", "autocomplete": "off"}),
        help_text="One of your accounts filled from files, or a new name (e.g. “Visa card”) to start one.",
        error_messages={"required": "Name the account these transactions belong to."},
    )


class StatementUploadForm(forms.Form):
    file = forms.FileField(
        label="Statement file",
        widget=forms.ClearableFileInput(attrs={"accept": ".ofx,.qfx,.qif,.csv"}),
        error_messages={"required": "Choose a statement file to upload."},
    )
    account_name = _account_name_field()

    def clean_file(self) -> Any:
        # Refused on its size alone, before a byte of it is read into memory.
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is larger than {limit / (1024 * 1024):g} MB; download a shorter period and upload that."
            )
        return upload


MAPPING_COLUMNS = ("date", "description", "amount", "debit", "credit", "memo", "external_id")
DATE_STYLE_LABELS = {
    "iso": "Year first (2026-11-03)",
    "us": "Month first, US (11/03/2026)",
    "day-first": "Day first (03/11/2026)",
}


class CsvMappingForm(forms.Form):
    """How to read a CSV upload's columns; prefilled with the detected mapping (CsvMapping.to_dict())."""

    date = forms.TypedChoiceField(label="Date", coerce=int)
    description = forms.TypedChoiceField(label="Description", coerce=int)
    amount = forms.TypedChoiceField(label="Amount", coerce=int, required=False, empty_value=None)
    debit = forms.TypedChoiceField(label="Debit (money out)", coerce=int, required=False, empty_value=None)
    credit = forms.TypedChoiceField(label="Credit (money in)", coerce=int, required=False, empty_value=None)
    memo = forms.TypedChoiceField(label="Memo", coerce=int, required=False, empty_value=None)
    external_id = forms.TypedChoiceField(label="Transaction id", coerce=int, required=False, empty_value=None)
    date_style = forms.ChoiceField(label="Dates are written", choices=[(s, DATE_STYLE_LABELS[s]) for s in DATE_STYLES])
    decimal_comma = forms.BooleanField(label="Decimal comma (1.234,56)", required=False)
    negate = forms.BooleanField(label="Flip the signs (purchases are positive)", required=False)
    has_header = forms.BooleanField(label="The first row holds column names", required=False)
    # Only needed to import: "Update preview" works without it.
    account_name = _account_name_field(required=False)

    def __init__(self, *args: Any, headers: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        columns = [(index, f"{index + 1}. {name}") for index, name in enumerate(headers)]
        for name in MAPPING_COLUMNS:
            field = self.fields[name]
            field.choices = columns if field.required else [("", "None"), *columns]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        read_as: dict[int, str] = {}
        for name in MAPPING_COLUMNS:
            column = data.get(name)
            if column is None:
                continue
            if column in read_as:
                self.add_error(name, f"Column {column + 1} is already read as the {read_as[column].lower()}.")
            else:
                read_as[column] = str(self.fields[name].label)
        amount, debit, credit = data.get("amount"), data.get("debit"), data.get("credit")
        if amount is None and debit is None and credit is None:
            self.add_error("amount", "Choose the amount column, or the debit and credit columns.")
        elif amount is not None and (debit is not None or credit is not None):
            self.add_error("amount", "Choose an amount column or debit and credit columns, not both.")
        return data

    def mapping(self) -> CsvMapping | None:
        """The mapping the form describes; None, with the reason on the form, when it is not one."""
        if not self.is_valid():
            return None
        values = {name: self.cleaned_data[name] for name in CsvMapping.__dataclass_fields__}
        try:
            return CsvMapping(**values)
        except ProviderError as exc:
            self.add_error(None, str(exc))
            return None
