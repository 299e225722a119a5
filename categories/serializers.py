from rest_framework import serializers

from .models import Category, UserRule


class CategoryOutputSerializer(serializers.ModelSerializer):
    # DRF moves declared fields off the class, so this does not clash with Field.parent.
    parent = serializers.CharField(source="parent.path", allow_null=True)  # type: ignore[assignment]

    class Meta:
        model = Category
        fields = ["id", "path", "name", "parent", "kind"]


class UserRuleOutputSerializer(serializers.ModelSerializer):
    merchant = serializers.CharField(source="merchant_name")
    category = serializers.CharField(source="category.path")

    class Meta:
        model = UserRule
        fields = ["id", "merchant", "merchant_key", "category", "created_at", "updated_at"]


class UserRuleInputSerializer(serializers.Serializer):
    category = serializers.CharField(max_length=90, help_text="Category path, e.g. food/groceries")
