from django.contrib import admin

from .models import Account, Connection, Institution


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "ofx_url", "ofx_org", "ofx_fid"]
    search_fields = ["name", "ofx_org"]


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
    readonly_fields = ("user", "institution", "provider", "url", "history_from", "last_synced_at", "last_error")
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
