from django.contrib import admin

from mint.admin import ReadOnlyModelAdmin

from . import services
from .models import ApiToken, AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ["at", "user", "action", "ip"]
    list_filter = ["action"]
    list_select_related = ["user"]
    search_fields = ["user__username", "ip"]
    date_hierarchy = "at"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff can see and revoke tokens (never a key: only its digest is stored, and not shown)."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name", "prefix"]
    fields = readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "expires_at")

    def has_add_permission(self, request) -> bool:
        return False  # a token's key is shown once, to the app that signed in for it

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj: ApiToken) -> None:
        services.api_token_revoke(token=obj, request=request, reason="staff")

    def delete_queryset(self, request, queryset) -> None:
        for token in queryset.select_related("user"):
            services.api_token_revoke(token=token, request=request, reason="staff")
