from django import forms
from django.contrib import admin
from django.db import transaction

from .categorizer import categorizer_invalidate
from .models import Category, DescriptorRule, Merchant, MerchantAlias, MerchantCategoryCode
from .normalize import normalize_descriptor


class NormalisedKeyForm(forms.ModelForm):
    """Stores aliases and patterns in the categorizer's normalised spelling."""

    normalised_field = ""

    def clean(self):
        super().clean()
        raw = self.cleaned_data.get(self.normalised_field)
        if raw:
            key = normalize_descriptor(raw)
            if not key:
                self.add_error(self.normalised_field, "Nothing left once numbers and punctuation are removed.")
            self.cleaned_data[self.normalised_field] = key
        return self.cleaned_data


class MerchantAliasForm(NormalisedKeyForm):
    normalised_field = "key"


class DescriptorRuleForm(NormalisedKeyForm):
    normalised_field = "pattern"


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


class MerchantAliasInline(admin.TabularInline):
    model = MerchantAlias
    form = MerchantAliasForm
    extra = 1


@admin.register(Merchant)
class MerchantAdmin(MapEditAdmin):
    list_display = ["name", "category", "updated_at"]
    list_filter = ["category__parent", "category"]
    list_select_related = ["category"]
    search_fields = ["name", "aliases__key"]
    inlines = [MerchantAliasInline]


@admin.register(DescriptorRule)
class DescriptorRuleAdmin(MapEditAdmin):
    form = DescriptorRuleForm
    list_display = ["pattern", "category"]
    list_select_related = ["category"]
    search_fields = ["pattern"]
    list_filter = ["category__parent"]


@admin.register(MerchantCategoryCode)
class MerchantCategoryCodeAdmin(MapEditAdmin):
    list_display = ["code", "description", "category"]
    list_select_related = ["category"]
    search_fields = ["code", "description"]
