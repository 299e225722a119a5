"""Writes to the category tree and the merchant map."""

from __future__ import annotations

import csv
from pathlib import Path

from django.db import transaction

from .categorizer import categorizer_invalidate
from .defaults import DEFAULT_TREE, NON_SPENDING_KINDS, display_name
from .models import Category, DescriptorRule, Merchant, MerchantAlias, MerchantCategoryCode
from .normalize import normalize_descriptor

DATA_DIR = Path(__file__).resolve().parent / "data"


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@transaction.atomic
def defaults_load(*, using: str = "default") -> None:
    """Insert the default categories and the seed merchant map where missing.

    Safe to run on every migrate: existing rows are never updated, so edits made in the
    admin survive. A seeded merchant's aliases are only added when the merchant itself is.
    """
    categories = _categories_load(using)
    changed = _merchants_load(categories, using)
    changed |= _rules_load(categories, using)
    changed |= _codes_load(categories, using)
    if changed:
        transaction.on_commit(categorizer_invalidate, using=using)


def _categories_load(using: str) -> dict[str, Category]:
    existing = {category.path: category for category in Category.objects.using(using)}
    for parent_slug, child_slugs in DEFAULT_TREE.items():
        kind = NON_SPENDING_KINDS.get(parent_slug, Category.Kind.SPENDING)
        parent = existing.get(parent_slug)
        if parent is None:
            parent = Category.objects.using(using).create(
                slug=parent_slug, name=display_name(parent_slug), path=parent_slug, kind=kind
            )
            existing[parent.path] = parent
        for slug in child_slugs:
            path = f"{parent_slug}/{slug}"
            if path not in existing:
                existing[path] = Category.objects.using(using).create(
                    parent=parent, slug=slug, name=display_name(slug), path=path, kind=kind
                )
    return existing


def _merchants_load(categories: dict[str, Category], using: str) -> bool:
    rows = _read_csv("merchants.csv")
    known = {name.lower() for name in Merchant.objects.using(using).values_list("name", flat=True)}
    new_rows = [row for row in rows if row["name"].lower() not in known]
    if not new_rows:
        return False
    merchants = Merchant.objects.using(using).bulk_create(
        [Merchant(name=row["name"], category=categories[row["category"]]) for row in new_rows]
    )
    taken = set(MerchantAlias.objects.using(using).values_list("key", flat=True))
    aliases = []
    for merchant, row in zip(merchants, new_rows, strict=True):
        for alias in [row["name"], *row["aliases"].split("|")]:
            key = normalize_descriptor(alias)
            if key and key not in taken:
                taken.add(key)
                aliases.append(MerchantAlias(merchant=merchant, key=key))
    MerchantAlias.objects.using(using).bulk_create(aliases)
    return True


def _rules_load(categories: dict[str, Category], using: str) -> bool:
    known = set(DescriptorRule.objects.using(using).values_list("pattern", flat=True))
    rules = []
    for row in _read_csv("descriptor_rules.csv"):
        pattern = normalize_descriptor(row["pattern"])
        if pattern and pattern not in known:
            known.add(pattern)
            rules.append(DescriptorRule(pattern=pattern, category=categories[row["category"]]))
    DescriptorRule.objects.using(using).bulk_create(rules)
    return bool(rules)


def _codes_load(categories: dict[str, Category], using: str) -> bool:
    known = set(MerchantCategoryCode.objects.using(using).values_list("code", flat=True))
    codes = [
        MerchantCategoryCode(code=row["code"], description=row["description"], category=categories[row["category"]])
        for row in _read_csv("mcc.csv")
        if row["code"] not in known
    ]
    MerchantCategoryCode.objects.using(using).bulk_create(codes)
    return bool(codes)
