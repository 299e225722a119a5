"""Reads of the category tree."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Category


def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("parent").order_by("path")


def category_get_by_path(path: str) -> Category | None:
    return Category.objects.filter(path=path.strip().strip("/").lower()).first()


def category_subtree_ids(category: Category) -> list[int]:
    """The category and, for a parent, its children: what a budget on it covers."""
    return [category.id, *Category.objects.filter(parent=category).values_list("id", flat=True)]
