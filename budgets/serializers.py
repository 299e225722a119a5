import datetime as dt
from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from .models import Budget

CENT = Decimal("0.01")


class BudgetOutputSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.path")
    approaching_percent = serializers.IntegerField(
        source="approaching_level", help_text="The approaching alert fires at this percent of the budget"
    )

    class Meta:
        model = Budget
        fields = ["id", "category", "amount", "approaching_percent", "created_at", "updated_at"]


class BudgetChangeInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    approaching_percent = serializers.IntegerField(
        required=False, min_value=1, max_value=99, help_text="Percent of the budget for the approaching alert (80)"
    )


class BudgetInputSerializer(BudgetChangeInputSerializer):
    category = serializers.CharField(max_length=90, help_text="Category path, e.g. food/groceries")


class BudgetPreferencesSerializer(serializers.Serializer):
    monthly_income = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        allow_null=True,
        help_text="Take-home pay per month for the income template; null to measure it from income transactions",
    )
    approaching_percent = serializers.IntegerField(
        min_value=1, max_value=99, allow_null=True, help_text="Default approaching alert level of budgets; null for 80"
    )


class RecommendationOutputSerializer(serializers.Serializer):
    category = serializers.CharField(help_text="Category path")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Recommended monthly budget")
    rule = serializers.CharField(help_text="history (your own months) or income-template (a share of income)")
    reason = serializers.CharField(help_text="How the figure was reached, in words")
    months = serializers.ListField(child=serializers.DateField(format="%Y-%m"), help_text="The months it comes from")
    current_budget = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)


class RecommendationListOutputSerializer(serializers.Serializer):
    results = RecommendationOutputSerializer(many=True)


class BudgetListOutputSerializer(serializers.Serializer):
    results = BudgetOutputSerializer(many=True)


class BudgetProgressOutputSerializer(serializers.Serializer):
    """One budget this month, as the budgets page shows it; a parent category's figures include its children."""

    budget_id = serializers.IntegerField()
    category = serializers.CharField(help_text="Category path")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    approaching_percent = serializers.IntegerField(help_text="The level in force: the budget's own, else the default")
    spent = serializers.DecimalField(max_digits=14, decimal_places=2)
    remaining = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="Negative when over budget")
    percent_used = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["ok", "near", "over"])
    last_month = serializers.DecimalField(max_digits=14, decimal_places=2)
    projected = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Month-end spending if the month goes on at its pace so far"
    )


class BudgetProgressListOutputSerializer(serializers.Serializer):
    month = serializers.DateField(format="%Y-%m")
    results = BudgetProgressOutputSerializer(many=True)


class TrendMonthOutputSerializer(serializers.Serializer):
    month = serializers.DateField(format="%Y-%m")
    spending = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="Refunds lower it")
    income = serializers.DecimalField(max_digits=14, decimal_places=2)


class SpendingTrendOutputSerializer(serializers.Serializer):
    """Spending and income per month, oldest first, the last month being `end` (this month by default)."""

    results = TrendMonthOutputSerializer(many=True)


class RecommendationAcceptInputSerializer(serializers.Serializer):
    categories = serializers.ListField(
        child=serializers.CharField(max_length=90),
        required=False,
        max_length=100,
        help_text="Category paths to accept; leave out to accept every recommendation",
    )


class BreakdownChildSerializer(serializers.Serializer):
    category = serializers.CharField(help_text="Category path")
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, help_text="Spent; refunds lower it")
    count = serializers.IntegerField(help_text="Transactions")
    budget = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    percent_used = serializers.DecimalField(
        max_digits=12, decimal_places=1, allow_null=True, help_text="Of the budget; null without one"
    )


class BreakdownRowSerializer(BreakdownChildSerializer):
    children = BreakdownChildSerializer(many=True, help_text="Its subcategories; the parent's figures include them")


class SpendingOutputSerializer(serializers.Serializer):
    """The widget: a month's spending total, per spending category (path -> amount), and count.

    `breakdown` adds counts and budgets per parent category. `stale` is true when the
    database could not answer and this is the last known copy, read at `as_of`.
    """

    month = serializers.DateField(format="%Y-%m")
    total = serializers.DecimalField(max_digits=16, decimal_places=2)
    categories = serializers.DictField(child=serializers.DecimalField(max_digits=16, decimal_places=2))
    txn_count = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)
    breakdown = BreakdownRowSerializer(many=True)
    stale = serializers.BooleanField()
    as_of = serializers.DateTimeField(allow_null=True)


def spending_representation(summary) -> dict:
    """Exactly what `SpendingOutputSerializer(summary).data` gives, built directly.

    The widget is the most read endpoint; DRF's serializer fields cost more than everything
    else in the request together (they are deep-copied per instance). The serializer stays
    the documented shape, and a test holds the two equal.
    """

    def money(value) -> str:
        return str(value.quantize(CENT))

    def row(item) -> dict:
        percent = item.percent_used
        return {
            "category": item.category,
            "amount": money(item.amount),
            "count": item.count,
            "budget": None if item.budget is None else money(item.budget),
            "percent_used": None if percent is None else str(percent),
        }

    return {
        "month": f"{summary.month:%Y-%m}",
        "total": money(summary.total),
        "categories": {path: money(amount) for path, amount in summary.categories.items()},
        "txn_count": summary.txn_count,
        "updated_at": _datetime(summary.updated_at),
        "breakdown": [
            {**row(parent), "children": [row(child) for child in parent.children]} for parent in summary.breakdown
        ],
        "stale": summary.stale,
        "as_of": _datetime(summary.as_of),
    }


def _datetime(value: dt.datetime | None) -> str | None:
    """DRF's DateTimeField output: ISO 8601 in the current time zone, UTC written `Z`."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
