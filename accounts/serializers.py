from rest_framework import serializers

from .forms import LOGIN_MAX_LENGTH, PASSWORD_MAX_LENGTH
from .models import Account


class ConnectInputSerializer(serializers.Serializer):
    """The brief's connect body."""

    user_id = serializers.CharField(required=False, max_length=150)
    account_url = serializers.URLField(max_length=500)
    account_login = serializers.CharField(max_length=LOGIN_MAX_LENGTH)
    account_password = serializers.CharField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, write_only=True)


class AccountOutputSerializer(serializers.ModelSerializer):
    """An account; the connection fields are null for accounts filled from files."""

    number = serializers.CharField(source="number_hint")
    connection_id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(source="connection.status", allow_null=True)
    last_synced_at = serializers.DateTimeField(source="connection.last_synced_at", allow_null=True)
    last_error = serializers.CharField(source="connection.last_error", allow_null=True)

    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "kind",
            "number",
            "currency",
            "balance",
            "balance_as_of",
            "connection_id",
            "status",
            "last_synced_at",
            "last_error",
        ]
