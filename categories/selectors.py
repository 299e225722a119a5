"""Reads of the category tree, user rules and the curation queue."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from mint.models import User

from .models import Category, CategoryVote, CrowdCategory, UnmatchedMerchant, UserRule


def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("parent").order_by("path")


LABELS_MAX_AGE_SECONDS = 60
LABEL_SEPARATOR = " \u203a "  # a single right-pointing angle quote: "Food > Groceries" typeset
_labels: tuple[float, dict[str, str]] = (float("-inf"), {})


def category_labels() -> dict[str, str]:
    """path -> what people read: `food/groceries` -> "Food", the separator, "Groceries".

    Read from the database at most once a minute per process: names change only in the admin,
    and pages label dozens of rows each.
    """
    global _labels
    read_at, labels = _labels
    if time.monotonic() - read_at > LABELS_MAX_AGE_SECONDS:
        names = dict(Category.objects.values_list("path", "name"))
        labels = {
            path: f"{names.get(path.rsplit('/', 1)[0], '')}{LABEL_SEPARATOR}{name}" if "/" in path else name
            for path, name in names.items()
        }
        _labels = (time.monotonic(), labels)
    return labels


def category_label(path: str) -> str:
    """What people read for a category path; a path no longer in the tree reads as itself."""
    return category_labels().get(path, path)


def category_paths_by_id() -> dict[int, str]:
    return dict(Category.objects.values_list("pk", "path"))


def category_ids_by_path(paths: Iterable[str]) -> dict[str, int]:
    wanted = {path for path in paths if path}
    if not wanted:
        return {}
    return dict(Category.objects.filter(path__in=wanted).values_list("path", "id"))


def category_get_by_path(path: str) -> Category | None:
    return Category.objects.filter(path=path.strip().strip("/").lower()).first()


def user_rules_for(*, user_id: int) -> dict[str, int]:
    """merchant key -> category id: the user's rules, read once per import."""
    return dict(UserRule.objects.filter(user_id=user_id).values_list("merchant_key", "category_id"))


def user_rules_for_users(*, user_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """user id -> (merchant key -> category id): `user_rules_for` of many users in one query."""
    rules: dict[int, dict[str, int]] = {}
    for user_id, key, category_id in UserRule.objects.filter(user_id__in=list(user_ids)).values_list(
        "user_id", "merchant_key", "category_id"
    ):
        rules.setdefault(user_id, {})[key] = category_id
    return rules


def user_rule_list_for_user(*, user: User) -> QuerySet[UserRule]:
    return UserRule.objects.filter(user=user).select_related("category")


@dataclass(frozen=True)
class QueuedMerchant:
    merchant_key: str
    example: str
    txn_count: int
    user_count: int
    suggestion: Category | None  # the crowd's choice, when enough users agree
    votes: list[tuple[str, int]]  # (category path, users), most first


def curation_queue(*, limit: int = 100) -> list[QueuedMerchant]:
    """Unrecognised merchants, most people affected first (then most transactions), with what users chose."""
    queued = list(UnmatchedMerchant.objects.order_by("-user_count", "-txn_count", "merchant_key")[:limit])
    keys = [merchant.merchant_key for merchant in queued]
    votes: dict[str, list[tuple[str, int]]] = {}
    for key, path, count in (
        CategoryVote.objects.filter(merchant_key__in=keys)
        .values_list("merchant_key", "category__path")
        .annotate(users=Count("pk"))
        .order_by("merchant_key", "-users", "category__path")
    ):
        votes.setdefault(key, []).append((path, count))
    crowd = {
        row.merchant_key: row.category
        for row in CrowdCategory.objects.filter(merchant_key__in=keys).select_related("category")
    }
    return [
        QueuedMerchant(
            merchant_key=merchant.merchant_key,
            example=merchant.example,
            txn_count=merchant.txn_count,
            user_count=merchant.user_count,
            suggestion=crowd.get(merchant.merchant_key),
            votes=votes.get(merchant.merchant_key, []),
        )
        for merchant in queued
    ]
