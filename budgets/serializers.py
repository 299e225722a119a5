from rest_framework import serializers

from .models import Budget


class BudgetOutputSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.path")

    class Meta:
        model = Budget
        fields = ["id", "category", "amount", "created_at", "updated_at"]


class BudgetInputSerializer(serializers.Serializer):
    category = serializers.CharField(max_length=90, help_text="Category path, e.g. food/groceries")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)


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
