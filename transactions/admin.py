from django.contrib import admin

from mint.admin import ReadOnlyModelAdmin

from .models import MonthlySpending, RawPayload, Transaction


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyModelAdmin):
    list_display = ["posted_on", "description", "amount", "currency", "category", "category_source", "user"]
    list_filter = ["category_source", "category__parent"]
    list_select_related = ["category", "user"]
    search_fields = ["description", "merchant_key", "user__username"]
    date_hierarchy = "posted_on"


@admin.register(MonthlySpending)
class MonthlySpendingAdmin(ReadOnlyModelAdmin):
    list_display = ["user", "month", "category", "amount", "txn_count", "updated_at"]
    list_select_related = ["user", "category"]
    search_fields = ["user__username"]


@admin.register(RawPayload)
class RawPayloadAdmin(ReadOnlyModelAdmin):
    list_display = ["received_at", "user", "source", "status", "rows_new", "rows_existing", "size"]
    list_filter = ["status", "source"]
    list_select_related = ["user"]
    search_fields = ["user__username", "sha256"]
