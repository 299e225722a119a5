"""Writes to the category tree, the merchant map, user rules and crowd votes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from mint.db import increment_upsert

from .categorizer import categorizer_invalidate
from .defaults import DEFAULT_TREE, NON_SPENDING_KINDS, display_name
from .models import (
    Category,
    CategoryVote,
    CrowdCategory,
    DescriptorRule,
    Merchant,
    MerchantAlias,
    MerchantCategoryCode,
    UnmatchedMerchant,
    UnmatchedMerchantUser,
    UserRule,
)
from .normalize import normalize_descriptor

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

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
        # Only the listed aliases: a name alone can be a common word ("Spin") or lose its
        # digits in normalisation ("The O2" -> "THE").
        for alias in row["aliases"].split("|"):
            key = normalize_descriptor(alias)
            if key and key not in taken:
                taken.add(key)
                aliases.append(MerchantAlias(merchant=merchant, key=key))
    MerchantAlias.objects.using(using).bulk_create(aliases)
    return True


def _rules_load(categories: dict[str, Category], using: str) -> bool:
    known = set(DescriptorRule.objects.using(using).values_list("pattern", "direction"))
    rules = []
    for row in _read_csv("descriptor_rules.csv"):
        kind = row.get("kind") or DescriptorRule.Kind.KEYWORD
        direction = row.get("direction") or DescriptorRule.Direction.ANY
        pattern = row["pattern"] if kind == DescriptorRule.Kind.REGEX else normalize_descriptor(row["pattern"])
        if pattern and (pattern, direction) not in known:
            known.add((pattern, direction))
            rules.append(
                DescriptorRule(
                    pattern=pattern,
                    kind=kind,
                    direction=direction,
                    priority=int(row.get("priority") or 0),
                    category=categories[row["category"]],
                )
            )
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


def user_rule_set(*, user_id: int, merchant_key: str, merchant_name: str, category: Category) -> UserRule:
    """Create or replace the user's rule for a merchant; it applies to their future imports."""
    if not merchant_key:
        raise ValidationError("This transaction names no merchant a rule could follow.")
    rule, _ = UserRule.objects.update_or_create(
        user_id=user_id,
        merchant_key=merchant_key,
        defaults={"merchant_name": merchant_name[:120], "category": category},
    )
    return rule


def vote_record(*, user_id: int, merchant_key: str, category: Category) -> None:
    """A manual choice is a vote: one per user and merchant, the latest choice counting.

    The merchant's crowd category is recomputed from its votes; the categorizers reload only
    when that category changes, not on every vote.
    """
    if not merchant_key:
        return
    CategoryVote.objects.update_or_create(user_id=user_id, merchant_key=merchant_key, defaults={"category": category})
    counts = list(
        CategoryVote.objects.filter(merchant_key=merchant_key)
        .values_list("category")
        .annotate(voters=Count("pk"))
        .order_by("-voters", "category")
    )
    total = sum(voters for _, voters in counts)
    top_category, top_voters = counts[0]
    agreed = top_voters >= settings.CROWD_MIN_VOTERS and top_voters >= settings.CROWD_MIN_SHARE * total
    current = CrowdCategory.objects.filter(merchant_key=merchant_key).values_list("category_id", flat=True).first()
    if agreed:
        CrowdCategory.objects.bulk_create(
            [CrowdCategory(merchant_key=merchant_key, category_id=top_category, voters=top_voters, total_voters=total)],
            update_conflicts=True,
            unique_fields=["merchant_key"],
            update_fields=["category", "voters", "total_voters", "updated_at"],
        )
    elif current is not None:
        CrowdCategory.objects.filter(merchant_key=merchant_key).delete()
    if current != (top_category if agreed else None):
        transaction.on_commit(categorizer_invalidate)


def unmatched_merchants_record(*, user_id: int, seen: dict[str, tuple[int, str]]) -> None:
    """Count transactions of merchants nothing recognised (key -> (count, an example descriptor))."""
    if not seen:
        return
    now = timezone.now()
    increment_upsert(
        UnmatchedMerchant,
        keys=["merchant_key"],
        increments=["txn_count"],
        replaces=["last_seen"],
        inserts=["example"],
        rows=[
            {"merchant_key": key, "txn_count": count, "example": example[:255], "last_seen": now}
            for key, (count, example) in seen.items()
        ],
    )
    UnmatchedMerchantUser.objects.bulk_create(
        [UnmatchedMerchantUser(merchant_key=key, user_id=user_id) for key in seen], ignore_conflicts=True
    )


@transaction.atomic
def merchant_accept(*, merchant_key: str, name: str, category: Category) -> Merchant:
    """Curate a merchant from the queue: new transactions with this key get this category.

    Existing transactions keep the category they were given (history is not rewritten).
    """
    name = name.strip()[:120]
    if not name:
        raise ValidationError({"name": "A merchant needs a name."})
    merchant = Merchant.objects.filter(name__iexact=name).first()
    if merchant is None:
        merchant = Merchant.objects.create(name=name, category=category)
    elif merchant.category_id != category.pk:
        merchant.category = category
        merchant.save(update_fields=["category", "updated_at"])
    MerchantAlias.objects.get_or_create(key=merchant_key, defaults={"merchant": merchant})
    UnmatchedMerchant.objects.filter(merchant_key=merchant_key).delete()
    UnmatchedMerchantUser.objects.filter(merchant_key=merchant_key).delete()
    transaction.on_commit(categorizer_invalidate)
    return merchant


MERCHANT_CSV_HEADER = ["name", "category", "aliases"]


def merchants_csv_export(merchants: Iterable[Merchant], out: SupportsWrite[str]) -> int:
    """Write merchants as `name,category,aliases` (aliases `|`-separated), the seed file's format."""
    writer = csv.writer(out)
    writer.writerow(MERCHANT_CSV_HEADER)
    count = 0
    for merchant in merchants:
        aliases = "|".join(alias.key for alias in merchant.aliases.all())
        writer.writerow([merchant.name, merchant.category.path if merchant.category else "", aliases])
        count += 1
    return count


@dataclass(frozen=True)
class MerchantImport:
    created: list[Merchant]
    updated: list[Merchant]
    aliases_added: int


@transaction.atomic
def merchants_csv_import(text: str) -> MerchantImport:
    """Create or update merchants from `name,category,aliases` rows; all rows or none.

    An existing merchant (same name, any case) takes the file's category; aliases are added,
    never removed. A bad row raises ValidationError naming its line, and nothing is saved.
    """
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or [name.strip().lower() for name in reader.fieldnames[:3]] != MERCHANT_CSV_HEADER:
        raise ValidationError("The file must start with the header: name,category,aliases")
    categories = {category.path: category for category in Category.objects.all()}
    taken = dict(MerchantAlias.objects.values_list("key", "merchant_id"))
    created: list[Merchant] = []
    updated: list[Merchant] = []
    aliases_added = 0
    for line, row in enumerate(reader, start=2):
        name = (row.get("name") or "").strip()
        path = (row.get("category") or "").strip()
        if not name:
            raise ValidationError(f"Line {line}: the name is empty.")
        if path and path not in categories:
            raise ValidationError(f"Line {line}: unknown category {path!r}.")
        category = categories.get(path)
        merchant = Merchant.objects.filter(name__iexact=name).first()
        if merchant is None:
            merchant = Merchant.objects.create(name=name[:120], category=category)
            created.append(merchant)
        elif merchant.category_id != (category.pk if category else None):
            merchant.category = category
            merchant.save(update_fields=["category", "updated_at"])
            updated.append(merchant)
        for alias in (row.get("aliases") or "").split("|"):
            key = normalize_descriptor(alias)
            if not key or taken.get(key) == merchant.pk:
                continue
            if key in taken:
                raise ValidationError(f"Line {line}: alias {alias.strip()!r} already names another merchant.")
            MerchantAlias.objects.create(merchant=merchant, key=key)
            taken[key] = merchant.pk
            aliases_added += 1
    transaction.on_commit(categorizer_invalidate)
    return MerchantImport(created=created, updated=updated, aliases_added=aliases_added)


def user_rule_delete(*, rule: UserRule) -> None:
    """Stop applying the rule to future imports; transactions it categorized keep their category."""
    rule.delete()
