from __future__ import annotations

from django.db.models import QuerySet

from mint.models import User

from .models import Notification, NotificationPreferences


def notification_list_for_user(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)


def notification_unread_count(*, user: User) -> int:
    """Unread notices, or 0 for a user who turned the in-app count off."""
    if NotificationPreferences.objects.filter(user=user, in_app_enabled=False).exists():
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
