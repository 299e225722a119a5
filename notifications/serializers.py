from rest_framework import serializers

from .models import Notification


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
