"""Writes to the category tree, the merchant map, user rules and crowd votes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from mint.db import increment_upsert, insert_new, transaction_lock

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
from .normalize import alias_key, name_key, normalize_descriptor

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

DATA_DIR = Path(__file__).resolve().parent / "data"
MAX_MERCHANT_NAME = 120


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
        [
            Merchant(name=row["name"], key=name_key(row["name"]), category=categories[row["category"]])
            for row in new_rows
        ]
    )
    taken = set(MerchantAlias.objects.using(using).values_list("key", flat=True))
    aliases = []
    for merchant, row in zip(merchants, new_rows, strict=True):
        # Only the listed aliases: a name alone can be a common word ("Spin").
        for alias in row["aliases"].split("|"):
            key = alias_key(alias)
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
        defaults={"merchant_name": merchant_name[:MAX_MERCHANT_NAME], "category": category},
    )
    return rule


def user_rule_delete(*, rule: UserRule) -> None:
    """Stop applying the rule to future imports; transactions it categorized keep their category."""
    rule.delete()


def vote_record(*, user_id: int, merchant_key: str, category: Category) -> None:
    """A manual choice is a vote: one per user and merchant, the latest choice counting.

    The merchant's crowd category is recomputed from its votes under a lock on the merchant,
    so two votes at once cannot both miss the threshold. Only a spending category can win:
    the crowd may say what a shop sells, not declare spending an income or a transfer.
    Categorizers reload only when the crowd's category changes.
    """
    if not merchant_key:
        return
    transaction_lock(f"crowd:{merchant_key}")
    CategoryVote.objects.update_or_create(user_id=user_id, merchant_key=merchant_key, defaults={"category": category})
    counts = list(
        CategoryVote.objects.filter(merchant_key=merchant_key)
        .values_list("category", "category__kind")
        .annotate(voters=Count("pk"))
        .order_by("-voters", "category")
    )
    total = sum(voters for _, _, voters in counts)
    top_category, top_kind, top_voters = counts[0]
    agreed = (
        top_kind == Category.Kind.SPENDING
        and top_voters >= settings.CROWD_MIN_VOTERS
        and top_voters >= settings.CROWD_MIN_SHARE * total
    )
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
    """Count transactions (and distinct users) of merchants nothing recognised.

    `seen` maps merchant key -> (transactions, an example descriptor). Called in the import's
    transaction with new rows only, so a replay counts nothing twice.
    """
    unmatched_merchants_record_many(seen_by_user={user_id: seen})


def unmatched_merchants_record_many(*, seen_by_user: dict[int, dict[str, tuple[int, str]]]) -> None:
    """`unmatched_merchants_record` for many users at once (a bulk import), in a few statements.

    The same counts as calling it for each user in id order: the example kept for a new
    merchant is the one the lowest user id gave.
    """
    totals: dict[str, tuple[int, str]] = {}
    pairs: list[dict[str, object]] = []
    for user_id in sorted(seen_by_user):
        for key, (count, example) in seen_by_user[user_id].items():
            known, first_example = totals.get(key, (0, example))
            totals[key] = (known + count, first_example)
            pairs.append({"merchant_key": key, "user": user_id})
    if not totals:
        return
    now = timezone.now()
    increment_upsert(
        UnmatchedMerchant,
        keys=["merchant_key"],
        increments=["txn_count"],
        replaces=["last_seen"],
        inserts=["example", "user_count"],
        rows=[
            {"merchant_key": key, "txn_count": count, "example": example[:255], "last_seen": now, "user_count": 0}
            for key, (count, example) in totals.items()
        ],
    )
    new_users: dict[str, int] = {}
    for start in range(0, len(pairs), 10_000):
        for key, _ in insert_new(
            UnmatchedMerchantUser, keys=["merchant_key", "user"], rows=pairs[start : start + 10_000]
        ):
            new_users[key] = new_users.get(key, 0) + 1
    by_count: dict[int, list[str]] = {}
    for key, count in new_users.items():
        by_count.setdefault(count, []).append(key)
    for count, keys in sorted(by_count.items()):
        UnmatchedMerchant.objects.filter(merchant_key__in=sorted(keys)).update(user_count=F("user_count") + count)


@transaction.atomic
def merchant_accept(*, merchant_key: str, name: str, category: Category) -> Merchant:
    """Curate a merchant from the queue: new transactions with this key get this category.

    Transactions already imported keep theirs (history is not rewritten). Accepted into an
    existing merchant, the users' rules and votes made under the queue's key follow it.
    """
    name = name.strip()[:MAX_MERCHANT_NAME]
    if not name:
        raise ValidationError({"name": "A merchant needs a name."})
    merchant = Merchant.objects.filter(name__iexact=name).first()
    if merchant is None:
        merchant = Merchant.objects.create(name=name, key=merchant_key, category=category)
    else:
        if merchant.category_id != category.pk:
            merchant.category = category
            merchant.save(update_fields=["category", "updated_at"])
        _identity_merge(old_key=merchant_key, new_key=merchant.key)
    MerchantAlias.objects.get_or_create(key=merchant_key, defaults={"merchant": merchant})
    UnmatchedMerchant.objects.filter(merchant_key=merchant_key).delete()
    UnmatchedMerchantUser.objects.filter(merchant_key=merchant_key).delete()
    transaction.on_commit(categorizer_invalidate)
    return merchant


def _identity_merge(*, old_key: str, new_key: str) -> None:
    """Move rules and votes from one merchant key to another; the user's own choice for the
    target key, where there is one, wins."""
    if old_key == new_key:
        return
    for model in (UserRule, CategoryVote):
        clashing = model.objects.filter(merchant_key=new_key).values_list("user_id", flat=True)
        model.objects.filter(merchant_key=old_key, user_id__in=clashing).delete()
        model.objects.filter(merchant_key=old_key).update(merchant_key=new_key)


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
    updated: list[Merchant]  # category changed
    aliased: list[Merchant] = field(default_factory=list)  # only new aliases
    aliases_added: int = 0


@transaction.atomic
def merchants_csv_import(text: str) -> MerchantImport:
    """Create or update merchants from `name,category,aliases` rows: all rows or none.

    An existing merchant (same name, any case) takes the file's category; aliases are added,
    never removed. A bad row raises ValidationError naming its line, and nothing is saved.
    """
    rows = _csv_rows(text)
    categories = {category.path: category for category in Category.objects.all()}
    merchants = {merchant.name.lower(): merchant for merchant in Merchant.objects.all()}
    taken = dict(MerchantAlias.objects.values_list("key", "merchant_id"))
    created: list[Merchant] = []
    updated: list[Merchant] = []
    wanted: list[tuple[int, str, list[str]]] = []  # (line, name, alias keys)
    for line, row in rows:
        name = (row.get("name") or "").strip()
        path = (row.get("category") or "").strip()
        if not name or len(name) > MAX_MERCHANT_NAME:
            raise ValidationError(f"Line {line}: the name must be 1 to {MAX_MERCHANT_NAME} characters.")
        if path and path not in categories:
            raise ValidationError(f"Line {line}: unknown category {path!r}.")
        keys = []
        for alias in (row.get("aliases") or "").split("|"):
            if not alias.strip():
                continue
            key = alias_key(alias)
            if key is None:
                raise ValidationError(
                    f"Line {line}: alias {alias.strip()[:60]!r} is empty or too generic once normalised."
                )
            keys.append(key)
        category = categories.get(path)
        merchant = merchants.get(name.lower())
        if merchant is None:
            merchant = Merchant(name=name, key=name_key(name), category=category)
            merchants[name.lower()] = merchant
            created.append(merchant)
        elif merchant.category_id != (category.pk if category else None) and merchant not in created:
            merchant.category = category
            updated.append(merchant)
        wanted.append((line, name, keys))
    Merchant.objects.bulk_create(created)
    Merchant.objects.bulk_update(updated, ["category"])
    new_aliases = []
    aliased = []
    for line, name, keys in wanted:
        merchant = merchants[name.lower()]
        added = False
        for key in keys:
            if taken.get(key) == merchant.pk:
                continue
            if key in taken:
                raise ValidationError(f"Line {line}: alias {key!r} already names another merchant.")
            taken[key] = merchant.pk
            new_aliases.append(MerchantAlias(merchant=merchant, key=key))
            added = True
        if added and merchant not in created and merchant not in updated and merchant not in aliased:
            aliased.append(merchant)
    MerchantAlias.objects.bulk_create(new_aliases)
    transaction.on_commit(categorizer_invalidate)
    return MerchantImport(created=created, updated=updated, aliased=aliased, aliases_added=len(new_aliases))


def _csv_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    try:
        reader = csv.DictReader(io.StringIO(text), strict=True)
        if reader.fieldnames is None or [name.strip().lower() for name in reader.fieldnames[:3]] != MERCHANT_CSV_HEADER:
            raise ValidationError("The file must start with the header: name,category,aliases")
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ValidationError(f"Not a readable CSV file: {exc}") from None
