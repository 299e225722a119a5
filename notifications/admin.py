from django.contrib import admin

from mint.admin import ReadOnlyModelAdmin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "user", "kind", "subject", "email_status", "read_at"]
    list_filter = ["kind", "email_status"]
    list_select_related = ["user"]
    search_fields = ["user__username", "subject"]
