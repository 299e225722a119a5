"""Reads of the category tree."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Category


def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("parent").order_by("path")


def category_get_by_path(path: str) -> Category | None:
    return Category.objects.filter(path=path.strip().strip("/").lower()).first()
