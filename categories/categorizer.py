"""The categorizer: the merchant map, crowd consensus, rules and MCC table held in memory.

Ingestion categorizes thousands of rows per import, so nothing here queries the database
per transaction. Each process keeps one loaded `Categorizer` and reloads it when the map
version in the cache changes (every edit through `categories.services` bumps it, after
commit). Resolution order, first hit wins (the user's manual choice is on the row and
never comes here):
  user rule > curated merchant map > crowd consensus > provider MCC > pattern rules > fallback.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.core.cache import cache

from .defaults import UNCATEGORIZED_INFLOW_PATH, UNCATEGORIZED_PATH
from .models import (
    Category,
    CategorySource,
    CrowdCategory,
    DescriptorRule,
    Merchant,
    MerchantAlias,
    MerchantCategoryCode,
)
from .normalize import descriptor_tokens, merchant_key, normalize_descriptor

MAP_VERSION_KEY = "categories:map-version"
MAX_ALIAS_TOKENS = 6


@dataclass(frozen=True, slots=True)
class Categorization:
    category_id: int
    source: str
    merchant_id: int | None
    merchant_key: str  # the merchant's identity for user rules, votes and the curation queue


_key_for_tokens = lru_cache(maxsize=200_000)(merchant_key)


class Categorizer:
    def __init__(
        self,
        *,
        aliases: dict[str, tuple[int, int | None]],
        merchant_keys: dict[int, str],
        crowd: dict[str, int],
        keyword_rules: dict[str, int],
        regex_rules: list[tuple[re.Pattern[str], int]],
        mcc: dict[str, int],
        fallback_id: int,
        inflow_fallback_id: int,
    ) -> None:
        self._aliases = aliases
        self._merchant_keys = merchant_keys
        self._crowd = crowd
        self._keyword_rules = keyword_rules
        self._regex_rules = regex_rules
        self._mcc = mcc
        self._fallback_id = fallback_id
        self._inflow_fallback_id = inflow_fallback_id
        # Longest keywords first, so "INTEREST CHARGE" wins over "INTEREST" at the same spot.
        keywords = sorted(keyword_rules, key=len, reverse=True)
        self._keyword_regex = re.compile(r"\b(?:" + "|".join(map(re.escape, keywords)) + r")\b") if keywords else None

    def _merchant(self, tokens: tuple[str, ...]) -> tuple[int, int | None] | None:
        """(merchant id, curated category id) for the longest alias the descriptor starts with."""
        for size in range(min(len(tokens), MAX_ALIAS_TOKENS), 0, -1):
            match = self._aliases.get(" ".join(tokens[:size]))
            if match is not None:
                return match
        return None

    def categorize(
        self, descriptor: str, *, amount: Decimal, mcc: str = "", user_rules: Mapping[str, int] | None = None
    ) -> Categorization:
        tokens = descriptor_tokens(descriptor)
        match = self._merchant(tokens)
        merchant_id, curated = match if match is not None else (None, None)
        key = self._merchant_keys[merchant_id] if merchant_id is not None else _key_for_tokens(tokens)
        if user_rules and (category_id := user_rules.get(key)) is not None:
            return Categorization(category_id, CategorySource.USER_RULE, merchant_id, key)
        if curated is not None:
            return Categorization(curated, CategorySource.MERCHANT_MAP, merchant_id, key)
        if (category_id := self._crowd.get(key)) is not None:
            return Categorization(category_id, CategorySource.CROWD, merchant_id, key)
        if mcc and (category_id := self._mcc.get(mcc)) is not None:
            return Categorization(category_id, CategorySource.PROVIDER, merchant_id, key)
        if self._regex_rules:
            upper = descriptor.upper()
            for pattern, category_id in self._regex_rules:
                if pattern.search(upper):
                    return Categorization(category_id, CategorySource.PATTERN, merchant_id, key)
        if self._keyword_regex is not None:
            found = max(self._keyword_regex.findall(" ".join(tokens)), key=len, default=None)
            if found is not None:
                return Categorization(self._keyword_rules[found], CategorySource.PATTERN, merchant_id, key)
        fallback = self._inflow_fallback_id if amount > 0 else self._fallback_id
        return Categorization(fallback, CategorySource.FALLBACK, merchant_id, key)


def categorizer_build() -> Categorizer:
    """Read the whole map: a handful of queries, whatever the number of merchants.

    Stored aliases and keywords are normalised again here, so a change to the normaliser
    applies to the existing map without a data migration.
    """
    aliases: dict[str, tuple[int, int | None]] = {}
    for key, merchant_id, category_id in MerchantAlias.objects.values_list(
        "key", "merchant_id", "merchant__category_id"
    ).order_by("pk"):
        aliases.setdefault(normalize_descriptor(key), (merchant_id, category_id))
    aliases.pop("", None)
    keyword_rules: dict[str, int] = {}
    regex_rules: list[tuple[re.Pattern[str], int]] = []
    for pattern, kind, category_id in DescriptorRule.objects.values_list("pattern", "kind", "category_id").order_by(
        "pk"
    ):
        if kind == DescriptorRule.Kind.REGEX:
            regex_rules.append((re.compile(pattern), category_id))
        elif normalised := normalize_descriptor(pattern):
            keyword_rules.setdefault(normalised, category_id)
    fallbacks = dict(
        Category.objects.filter(path__in=[UNCATEGORIZED_PATH, UNCATEGORIZED_INFLOW_PATH]).values_list("path", "id")
    )
    return Categorizer(
        aliases=aliases,
        merchant_keys={pk: normalize_descriptor(name) for pk, name in Merchant.objects.values_list("pk", "name")},
        crowd=dict(CrowdCategory.objects.values_list("merchant_key", "category_id")),
        keyword_rules=keyword_rules,
        regex_rules=regex_rules,
        mcc=dict(MerchantCategoryCode.objects.values_list("code", "category_id")),
        fallback_id=fallbacks[UNCATEGORIZED_PATH],
        inflow_fallback_id=fallbacks[UNCATEGORIZED_INFLOW_PATH],
    )


_lock = threading.Lock()
_loaded: tuple[str, Categorizer] | None = None


def get_categorizer() -> Categorizer:
    """This process's categorizer, rebuilt when another process changed the map."""
    global _loaded
    version = cache.get(MAP_VERSION_KEY)
    if version is None:
        # Unknown (cache emptied, or down): start a new version so every process rebuilds.
        version = uuid.uuid4().hex
        cache.add(MAP_VERSION_KEY, version, timeout=None)
    with _lock:
        if _loaded is None or _loaded[0] != version:
            _loaded = (version, categorizer_build())
        return _loaded[1]


def categorizer_invalidate() -> None:
    cache.set(MAP_VERSION_KEY, uuid.uuid4().hex, timeout=None)
