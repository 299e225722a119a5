import re
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from mint.admin import ReadOnlyModelAdmin

from . import selectors, services
from .categorizer import categorizer_invalidate
from .models import Category, CrowdCategory, DescriptorRule, Merchant, MerchantAlias, MerchantCategoryCode, UserRule
from .normalize import normalize_descriptor


class MapEditAdmin(admin.ModelAdmin):
    """Every change to the map reaches all workers' in-memory categorizers.

    The version is bumped after commit: a worker rebuilding before the commit would
    otherwise cache the old map under the new version.
    """

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(categorizer_invalidate)

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        transaction.on_commit(categorizer_invalidate)

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset)
        transaction.on_commit(categorizer_invalidate)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        transaction.on_commit(categorizer_invalidate)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["path", "name", "kind"]
    list_filter = ["kind"]
    search_fields = ["path", "name"]

    def has_add_permission(self, request) -> bool:
        return False  # the tree is part of the API; it changes with a migration

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return ["parent", "slug", "path", "kind"]


class MerchantAliasForm(forms.ModelForm):
    """Aliases are stored in the categorizer's normalised spelling."""

    class Meta:
        model = MerchantAlias
        fields = ["key"]

    def clean_key(self) -> str:
        key = normalize_descriptor(self.cleaned_data["key"])
        if not key:
            raise ValidationError("Nothing is left once numbers, places and punctuation are removed.")
        return key


class MerchantAliasInline(admin.TabularInline):
    model = MerchantAlias
    form = MerchantAliasForm
    extra = 1


class MerchantImportForm(forms.Form):
    file = forms.FileField(help_text="CSV with the header name,category,aliases (aliases separated by |)")


@admin.register(Merchant)
class MerchantAdmin(MapEditAdmin):
    list_display = ["name", "category", "updated_at"]
    list_filter = ["category__parent", "category"]
    list_select_related = ["category"]
    search_fields = ["name", "aliases__key"]
    inlines = [MerchantAliasInline]
    actions = ["export_csv"]
    change_list_template = "admin/categories/merchant/change_list.html"

    def get_urls(self):
        own = [
            path("export/", self.admin_site.admin_view(self.export_all_view), name="categories_merchant_export"),
            path("import/", self.admin_site.admin_view(self.import_view), name="categories_merchant_import"),
            path("queue/", self.admin_site.admin_view(self.queue_view), name="categories_merchant_queue"),
        ]
        return own + super().get_urls()

    @admin.action(description="Export selected merchants as CSV")
    def export_csv(self, request: HttpRequest, queryset) -> HttpResponse:
        return self._csv_response(queryset)

    def export_all_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self._csv_response(Merchant.objects.all())

    @staticmethod
    def _csv_response(queryset) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="merchants.csv"'
        merchants = queryset.select_related("category").prefetch_related("aliases").order_by("name")
        services.merchants_csv_export(merchants, response)
        return response

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = MerchantImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                text = form.cleaned_data["file"].read().decode("utf-8-sig")
                result = services.merchants_csv_import(text)
            except UnicodeDecodeError:
                form.add_error("file", "The file is not UTF-8 text.")
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                self._log(request, result.created, ADDITION, "Imported from CSV")
                self._log(request, result.updated, CHANGE, "Category changed by CSV import")
                self._log(request, result.aliased, CHANGE, "Aliases added by CSV import")
                self.message_user(
                    request,
                    f"Imported: {len(result.created)} new merchants, {len(result.updated)} changed, "
                    f"{result.aliases_added} aliases added.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:categories_merchant_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "title": "Import merchants",
        }
        return TemplateResponse(request, "admin/categories/merchant/import.html", context)

    def queue_view(self, request: HttpRequest) -> HttpResponse:
        """Unrecognised merchants by transactions affected; accepting one curates it for new imports."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            if not (self.has_add_permission(request) and self.has_change_permission(request)):
                raise PermissionDenied
            return self._queue_accept(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Uncategorized merchants",
            "queue": selectors.curation_queue(limit=200),
            "categories": selectors.category_list(),
        }
        return TemplateResponse(request, "admin/categories/merchant/queue.html", context)

    def _queue_accept(self, request: HttpRequest) -> HttpResponse:
        category = selectors.category_get_by_path(request.POST.get("category", ""))
        key = request.POST.get("merchant_key", "")
        if category is None or not key:
            self.message_user(request, "Choose a category for the merchant.", messages.ERROR)
        else:
            try:
                merchant = services.merchant_accept(
                    merchant_key=key, name=request.POST.get("name") or key.title(), category=category
                )
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.log_change(request, merchant, f"Accepted from the queue as {category.path} (key {key})")
                self.message_user(request, f"{merchant.name} is now {category.path} for new transactions.")
        return HttpResponseRedirect(reverse("admin:categories_merchant_queue"))

    @staticmethod
    def _log(request: HttpRequest, merchants: list[Merchant], flag: int, message: str) -> None:
        if merchants:
            LogEntry.objects.log_actions(cast(int, request.user.pk), merchants, flag, message)


class DescriptorRuleForm(forms.ModelForm):
    class Meta:
        model = DescriptorRule
        fields = ["pattern", "kind", "direction", "priority", "category"]

    def clean(self):
        super().clean()
        pattern = self.cleaned_data.get("pattern")
        if not pattern:
            return self.cleaned_data
        if self.cleaned_data.get("kind") == DescriptorRule.Kind.REGEX:
            try:
                re.compile(pattern)
            except re.error as exc:
                self.add_error("pattern", f"Not a valid regular expression: {exc}")
        else:
            keyword = normalize_descriptor(pattern)
            if not keyword:
                self.add_error("pattern", "Nothing is left once numbers, places and punctuation are removed.")
            self.cleaned_data["pattern"] = keyword
        return self.cleaned_data


@admin.register(DescriptorRule)
class DescriptorRuleAdmin(MapEditAdmin):
    form = DescriptorRuleForm
    list_display = ["pattern", "kind", "direction", "priority", "category", "updated_at"]
    list_select_related = ["category"]
    search_fields = ["pattern"]
    list_filter = ["kind", "direction", "category__parent"]


@admin.register(MerchantCategoryCode)
class MerchantCategoryCodeAdmin(MapEditAdmin):
    list_display = ["code", "description", "category"]
    list_select_related = ["category"]
    search_fields = ["code", "description"]


@admin.register(CrowdCategory)
class CrowdCategoryAdmin(ReadOnlyModelAdmin):
    """What users agree on, for merchants outside the curated map: kept in step with their votes.

    To overrule the crowd, curate the merchant (the curated map comes first).
    """

    list_display = ["merchant_key", "category", "voters", "total_voters", "updated_at"]
    list_select_related = ["category"]
    search_fields = ["merchant_key"]


@admin.register(UserRule)
class UserRuleAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant_name", "category", "updated_at"]
    list_select_related = ["user", "category"]
    search_fields = ["user__username", "merchant_key"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
