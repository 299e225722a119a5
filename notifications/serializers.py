from rest_framework import serializers

from .models import Notification, NotificationPreferences


class NotificationOutputSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="context.category", default=None)
    month = serializers.CharField(source="context.month", default=None)
    level = serializers.CharField(source="context.level", default=None)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "subject", "body", "category", "month", "level", "created_at", "read", "read_at"]

    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class NotificationPreferencesSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationPreferences
        fields = ["email_enabled", "in_app_enabled", "email_mode", "quiet_start", "quiet_end"]

    def validate(self, attrs):
        if ("quiet_start" in attrs) != ("quiet_end" in attrs) or (attrs.get("quiet_start") is None) != (
            attrs.get("quiet_end") is None
        ):
            raise serializers.ValidationError("Give both ends of the quiet hours (null for none), or neither.")
        return attrs
