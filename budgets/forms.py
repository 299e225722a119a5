from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.db.models import QuerySet

from categories.models import Category


def spending_categories() -> QuerySet[Category]:
    return Category.objects.filter(kind=Category.Kind.SPENDING).order_by("path")


class MoneyField(forms.DecimalField):
    """A dollar amount as people type it: `$1,200.50` is 1200.50."""

    def to_python(self, value: Any) -> Any:  # Decimal | None; django-stubs types it as IntegerField's
        if isinstance(value, str):
            value = value.replace("$", "").replace(",", "").strip()
        return super().to_python(value)


class BudgetChangeForm(forms.Form):
    """A budget's amount and its approaching alert level (empty: leave the level as it is)."""

    amount = MoneyField(
        label="Monthly amount",
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"min_value": "A budget must be more than zero."},
        # Text, not number: "$1,200" is accepted, and the server's message shows next to the field.
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    approaching_percent = forms.IntegerField(
        label="Alert at",
        required=False,
        min_value=1,
        max_value=99,
        error_messages={
            "min_value": "Between 1 and 99 percent.",
            "max_value": "Between 1 and 99 percent.",
        },
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "size": 3}),
    )

    def __init__(self, *args: Any, default_approaching: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        default = default_approaching or settings.BUDGET_ALERT_LEVELS["approaching"]
        field = self.fields["approaching_percent"]
        field.widget.attrs["placeholder"] = str(default)
        field.help_text = f"Percent of the budget at which you get a first alert; {default} if left empty."

    def focus_first_error(self) -> None:
        """Put the cursor in the first field to fix when the page comes back with errors."""
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["autofocus"] = True
                return


class BudgetForm(BudgetChangeForm):
    """A budget on any spending category: created, or replaced when the category has one."""

    category = forms.ModelChoiceField(
        label="Category",
        queryset=spending_categories(),
        to_field_name="path",
        empty_label="Choose a category",
        error_messages={"invalid_choice": "Choose a spending category from the list."},
    )
    field_order = ["category", "amount", "approaching_percent"]

    def limit_categories(self, exclude_paths: set[str]) -> None:
        """Offer only categories without a budget (those are changed in their own row)."""
        field = cast(forms.ModelChoiceField, self.fields["category"])
        field.queryset = spending_categories().exclude(path__in=exclude_paths)


class RecommendationAcceptForm(forms.Form):
    """Accept the recommendation for one category, or (`all`) every recommendation."""

    category = forms.CharField(required=False, max_length=90)
    all = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("all") and not cleaned.get("category"):
            raise forms.ValidationError("Choose a recommendation to accept.")
        return cleaned

    @property
    def categories(self) -> list[str] | None:
        """What to pass to the service: None for all."""
        return None if self.cleaned_data["all"] else [self.cleaned_data["category"]]


class BudgetPreferencesForm(forms.Form):
    monthly_income = MoneyField(
        label="Your monthly income",
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text="Take-home pay. Used for recommendations while your history is short; leave empty to use what we "
        "see arrive in your accounts.",
    )
    approaching_percent = forms.IntegerField(
        label="Alert me at",
        required=False,
        min_value=1,
        max_value=99,
        error_messages={"min_value": "Between 1 and 99 percent.", "max_value": "Between 1 and 99 percent."},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "size": 3}),
        help_text="Percent of a budget at which you get a first alert, for budgets that set none; 80 if left empty.",
    )
