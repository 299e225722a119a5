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


class SpendingOutputSerializer(serializers.Serializer):
    """The widget: a month's spending total, per spending category (path -> amount), and count."""

    month = serializers.DateField(format="%Y-%m")
    total = serializers.DecimalField(max_digits=16, decimal_places=2)
    categories = serializers.DictField(child=serializers.DecimalField(max_digits=16, decimal_places=2))
    txn_count = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)
