from rest_framework import serializers

from .forms import LOGIN_MAX_LENGTH, PASSWORD_MAX_LENGTH
from .models import Account, Connection, Institution, OfxVersion, SyncJob
from .providers.ofx import ACCOUNT_TYPES


class ConnectInputSerializer(serializers.Serializer):
    """The brief's connect body, plus the OFX details some banks need (or a bank from the directory)."""

    user_id = serializers.CharField(required=False, max_length=150)
    institution_id = serializers.IntegerField(required=False)
    account_url = serializers.URLField(max_length=500, required=False)
    account_login = serializers.CharField(max_length=LOGIN_MAX_LENGTH)
    account_password = serializers.CharField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, write_only=True)
    ofx_org = serializers.CharField(max_length=32, required=False, default="")
    ofx_fid = serializers.CharField(max_length=32, required=False, default="")
    bank_id = serializers.CharField(max_length=32, required=False, default="")
    ofx_version = serializers.ChoiceField(choices=OfxVersion.choices, required=False, default=OfxVersion.V220)
    app_id = serializers.CharField(max_length=5, required=False, default="")
    app_version = serializers.CharField(max_length=4, required=False, default="")
    account_id = serializers.CharField(
        max_length=22, required=False, default="", help_text="for a bank that cannot list its accounts (no ACCTINFO)"
    )
    account_type = serializers.ChoiceField(choices=list(ACCOUNT_TYPES.items()), required=False, default="CHECKING")

    def validate(self, attrs: dict) -> dict:
        if "institution_id" in attrs:
            institution = Institution.objects.filter(pk=attrs["institution_id"]).first()
            if institution is None:
                raise serializers.ValidationError({"institution_id": ["No such institution."]})
            attrs["institution"] = institution
        elif not attrs.get("account_url"):
            raise serializers.ValidationError({"account_url": ["Pick an institution or give its OFX URL."]})
        return attrs


class SimpleFinConnectInputSerializer(serializers.Serializer):
    setup_token = serializers.CharField(max_length=2000, write_only=True)


class CredentialsInputSerializer(serializers.Serializer):
    """New credentials: login and password for OFX, a new setup token for SimpleFIN."""

    login = serializers.CharField(max_length=LOGIN_MAX_LENGTH, required=False, default="")
    password = serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, write_only=True, required=False, default=""
    )
    setup_token = serializers.CharField(max_length=2000, write_only=True, required=False, default="")


class DisconnectInputSerializer(serializers.Serializer):
    history = serializers.ChoiceField(
        choices=[("keep", "Keep the transactions"), ("delete", "Delete the transactions")],
        help_text="keep: the accounts stay, with their transactions, as file accounts; delete: they go too",
    )


class SyncJobOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncJob
        fields = [
            "id",
            "connection_id",
            "trigger",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "next_try_at",
            "rows_new",
            "rows_existing",
            "message",
        ]


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


class ConnectionAccountSerializer(serializers.ModelSerializer):
    number = serializers.CharField(source="number_hint")

    class Meta:
        model = Account
        fields = ["id", "name", "kind", "number", "currency", "balance", "balance_as_of"]


class ConnectionOutputSerializer(serializers.ModelSerializer):
    """A link to an institution; never its credentials."""

    name = serializers.CharField(source="display_name")
    accounts = ConnectionAccountSerializer(many=True)
    latest_job = serializers.SerializerMethodField()

    class Meta:
        model = Connection
        fields = [
            "id",
            "name",
            "provider",
            "institution_id",
            "url",
            "status",
            "last_synced_at",
            "last_error",
            "created_at",
            "accounts",
            "latest_job",
        ]

    def get_latest_job(self, connection: Connection) -> dict | None:
        jobs = connection.latest_jobs  # type: ignore[attr-defined]  # prefetched by the selector
        return SyncJobOutputSerializer(jobs[0]).data if jobs else None


class LinkedOutputSerializer(serializers.Serializer):
    """The answer to linking a bank (the brief's Accounts API shape)."""

    user_id = serializers.IntegerField()
    account_id = serializers.IntegerField(help_text="The first account found")
    account_ids = serializers.ListField(child=serializers.IntegerField())
    connection_id = serializers.IntegerField()
    action = serializers.CharField()
    status = serializers.CharField()


class RefreshTooSoonOutputSerializer(serializers.Serializer):
    """429: the connection was refreshed moments ago; the job it started, to poll instead."""

    detail = serializers.CharField()
    job = SyncJobOutputSerializer()


class InstitutionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Institution
        fields = ["id", "name", "ofx_url", "ofx_org", "ofx_fid", "bank_id", "ofx_version"]
