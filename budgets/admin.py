from django.contrib import admin

from mint.admin import ReadOnlyModelAdmin

from .models import Budget, BudgetAlert


@admin.register(Budget)
class BudgetAdmin(ReadOnlyModelAdmin):
    list_display = ["user", "category", "amount", "updated_at"]
    list_select_related = ["user", "category"]
    search_fields = ["user__username", "category__path"]


@admin.register(BudgetAlert)
class BudgetAlertAdmin(ReadOnlyModelAdmin):
    list_display = ["user", "category", "month", "level", "spent", "budget_amount", "created_at"]
    list_filter = ["level"]
    list_select_related = ["user", "category"]
    search_fields = ["user__username"]
