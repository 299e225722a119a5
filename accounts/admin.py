from django.contrib import admin

from .models import Account, Connection, Institution, SyncJob


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    """The bank directory users pick from when they link: staff keep each bank's OFX details here."""

    list_display = ["name", "ofx_url", "ofx_org", "ofx_fid", "ofx_version"]
    list_filter = ["ofx_version"]
    search_fields = ["name", "ofx_org", "ofx_url"]
    fieldsets = [
        (None, {"fields": ["name", "ofx_url"]}),
        ("OFX details", {"fields": ["ofx_org", "ofx_fid", "bank_id", "ofx_version", "app_id", "app_version"]}),
    ]


class AccountInline(admin.TabularInline):
    model = Account
    fields = ("name", "kind", "currency", "balance", "balance_as_of")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    """Support view of a link. The credentials are not a field here: never shown, never editable."""

    list_display = ["id", "user", "provider", "url", "status", "last_synced_at"]
    list_filter = ["status", "provider"]
    list_select_related = ["user"]
    search_fields = ["user__username", "url"]
    readonly_fields = (
        "user",
        "institution",
        "provider",
        "url",
        "ofx_version",
        "app_id",
        "app_version",
        "history_from",
        "last_synced_at",
        "daily_refresh_on",
        "last_error",
    )
    fields = (*readonly_fields, "status")
    inlines = [AccountInline]

    def has_add_permission(self, request) -> bool:
        return False  # a link needs the user's credentials: users create them


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "kind", "currency", "balance", "connection"]
    list_filter = ["kind"]
    list_select_related = ["user", "connection"]
    search_fields = ["name", "user__username"]
    readonly_fields = ["user", "connection", "external_id", "bank_id", "balance", "balance_as_of"]


@admin.register(SyncJob)
class SyncJobAdmin(admin.ModelAdmin):
    """What each refresh did, for support; jobs are made by the app, never here."""

    list_display = ["id", "connection", "trigger", "status", "created_at", "finished_at", "attempts", "rows_new"]
    list_filter = ["status", "trigger"]
    list_select_related = ["connection"]
    search_fields = ["connection__user__username"]
    readonly_fields = [field.name for field in SyncJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
