from __future__ import annotations

from rest_framework import serializers

from .models import ApiToken, AuditEvent
from .user_agents import user_agent_summary


class ApiTokenCreateInputSerializer(serializers.Serializer):
    """DRF's obtain_auth_token body (username, password), plus what to call the token."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)
    otp = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="For an account with two-factor sign-in: the authenticator app's current code, or a recovery code",
    )
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="The device or app, e.g. “iPhone”"
    )
    device = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text="Another word for name")
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, help_text="Leave out for a token valid until revoked"
    )


class ApiTokenOutputSerializer(serializers.ModelSerializer):
    """A token as listed: never its key or the key's digest."""

    current = serializers.SerializerMethodField(help_text="Whether this request was made with it")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "expires_at", "current"]

    def get_current(self, token: ApiToken) -> bool:
        request = self.context.get("request")
        auth = getattr(request, "auth", None)
        return isinstance(auth, ApiToken) and auth.pk == token.pk


class ApiTokenCreatedOutputSerializer(ApiTokenOutputSerializer):
    """The answer to making a token: `token` is the key, shown this once (DRF's `{"token": ...}` shape)."""

    token = serializers.SerializerMethodField(
        help_text="The key: send it as `Authorization: Token <key>`. Not shown again."
    )

    class Meta(ApiTokenOutputSerializer.Meta):
        fields = ["token", "id", "name", "prefix", "created_at", "expires_at"]

    def get_token(self, token: ApiToken) -> str:
        return self.context["key"]


class PasswordChangeInputSerializer(serializers.Serializer):
    old_password = serializers.CharField(trim_whitespace=False, max_length=4096)
    new_password = serializers.CharField(trim_whitespace=False, max_length=4096)


class AuditEventOutputSerializer(serializers.ModelSerializer):
    description = serializers.CharField(source="get_action_display")
    browser = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "action", "description", "ip", "user_agent", "browser", "detail"]

    def get_browser(self, event: AuditEvent) -> str:
        return user_agent_summary(event.user_agent)
