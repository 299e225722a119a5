import re
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mint.converters import MonthConverter

from .models import RawPayload, Transaction


class TransactionOutputSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name")
    merchant = serializers.CharField(source="merchant.name", allow_null=True)
    category = serializers.CharField(source="category.path")

    class Meta:
        model = Transaction
        fields = [
            "id",
            "account",
            "account_name",
            "posted_on",
            "amount",
            "currency",
            "description",
            "merchant",
            "category",
            "category_source",
            "pending",
        ]


class TransactionCategoryInputSerializer(serializers.Serializer):
    category = serializers.CharField(max_length=90, help_text="Category path, e.g. food/groceries")
    always_for_merchant = serializers.BooleanField(
        default=False, help_text="Also put this merchant's future transactions in this category"
    )
    include_past = serializers.BooleanField(
        default=False, help_text="With always_for_merchant: move its past uncategorized transactions too"
    )


@extend_schema_field({"type": "string", "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])$", "example": "2026-11"})
class MonthField(serializers.Field):
    """`YYYY-MM` <-> the month's first day."""

    default_error_messages = {"invalid": "Expected a month as YYYY-MM."}

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(MonthConverter.regex, data):
            self.fail("invalid")
        try:
            return MonthConverter().to_python(data)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value) -> str:
        return MonthConverter().to_url(value)


class TransactionFilterSerializer(serializers.Serializer):
    month = MonthField(required=False, help_text="YYYY-MM, by posted date")
    account = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    category = serializers.CharField(
        required=False, max_length=90, help_text="Category path; a parent includes its children"
    )
    merchant = serializers.CharField(required=False, max_length=120, help_text="Part of the merchant's name")
    q = serializers.CharField(required=False, max_length=120, help_text="Text in the descriptor, memo or merchant")
    amount_min = serializers.DecimalField(
        required=False, max_digits=14, decimal_places=2, min_value=Decimal("0"), help_text="Smallest size, in or out"
    )
    amount_max = serializers.DecimalField(
        required=False, max_digits=14, decimal_places=2, min_value=Decimal("0"), help_text="Largest size, in or out"
    )

    def validate(self, attrs):
        low, high = attrs.get("amount_min"), attrs.get("amount_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"amount_max": "Must not be less than amount_min."})
        return attrs


class UploadInputSerializer(serializers.Serializer):
    """A statement file; with `account_name` (and, for CSV, a `mapping`) it is imported at once."""

    file = serializers.FileField()
    account_name = serializers.CharField(max_length=120, required=False, default="")
    mapping = serializers.JSONField(required=False, help_text="CSV column mapping, in the shape the preview returns")


class UploadConfirmInputSerializer(serializers.Serializer):
    account_name = serializers.CharField(max_length=120)
    mapping = serializers.JSONField(required=False, help_text="CSV column mapping; default: the detected one")


class CsvPreviewOutputSerializer(serializers.Serializer):
    headers = serializers.ListField(child=serializers.CharField())
    mapping = serializers.SerializerMethodField()
    rows = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    lines = serializers.SerializerMethodField()
    problems = serializers.ListField(child=serializers.CharField())

    def get_mapping(self, preview) -> dict:
        return preview.mapping.to_dict()

    def get_lines(self, preview) -> list[dict]:
        return [
            {"posted_on": line.posted_on, "amount": str(line.amount), "description": line.description}
            for line in preview.lines
        ]


class UploadOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = RawPayload
        fields = [
            "id",
            "filename",
            "file_format",
            "status",
            "received_at",
            "account",
            "rows_new",
            "rows_existing",
            "error",
        ]


class UploadCreatedOutputSerializer(serializers.Serializer):
    """A stored upload; `preview` shows how a CSV reads (null for the other formats)."""

    upload = UploadOutputSerializer()
    preview = CsvPreviewOutputSerializer(allow_null=True)


class UploadImportedOutputSerializer(serializers.Serializer):
    """An imported upload, with the rows it added and those already there."""

    upload = UploadOutputSerializer()
    new = serializers.IntegerField()
    existing = serializers.IntegerField()
