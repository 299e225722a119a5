"""The categorizer: the merchant map, keyword rules and MCC table held in memory.

Ingestion categorizes thousands of rows per import, so nothing here queries the database
per transaction. Each process keeps one loaded `Categorizer` and reloads it when the map
version in the cache changes (every edit through `categories.services` bumps it).
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache

from .defaults import UNCATEGORIZED_INFLOW_PATH, UNCATEGORIZED_PATH
from .models import Category, CategorySource, DescriptorRule, MerchantAlias, MerchantCategoryCode
from .normalize import descriptor_tokens, normalize_descriptor

MAP_VERSION_KEY = "categories:map-version"
MAX_ALIAS_TOKENS = 6


@dataclass(frozen=True, slots=True)
class Categorization:
    category_id: int
    source: str
    merchant_id: int | None
    merchant_key: str


class Categorizer:
    def __init__(
        self,
        *,
        aliases: dict[str, tuple[int, int | None]],
        rules: dict[str, int],
        mcc: dict[str, int],
        fallback_id: int,
        inflow_fallback_id: int,
    ) -> None:
        self._aliases = aliases
        self._rules = rules
        self._mcc = mcc
        self._fallback_id = fallback_id
        self._inflow_fallback_id = inflow_fallback_id
        # Longest patterns first, so "INTEREST CHARGE" wins over "INTEREST" at the same spot.
        patterns = sorted(rules, key=len, reverse=True)
        self._rule_regex = re.compile(r"\b(?:" + "|".join(map(re.escape, patterns)) + r")\b") if patterns else None

    def categorize(self, descriptor: str, *, amount: Decimal, mcc: str = "") -> Categorization:
        tokens = descriptor_tokens(descriptor)
        merchant_id = None
        merchant_key = " ".join(tokens)[:120]
        for size in range(min(len(tokens), MAX_ALIAS_TOKENS), 0, -1):
            match = self._aliases.get(" ".join(tokens[:size]))
            if match is not None:
                merchant_id, category_id = match
                if category_id is not None:
                    return Categorization(category_id, CategorySource.MERCHANT_MAP, merchant_id, merchant_key)
                break
        if mcc and (category_id := self._mcc.get(mcc)) is not None:
            return Categorization(category_id, CategorySource.PROVIDER, merchant_id, merchant_key)
        if self._rule_regex is not None:
            found = max(self._rule_regex.findall(merchant_key), key=len, default=None)
            if found is not None:
                return Categorization(self._rules[found], CategorySource.PATTERN, merchant_id, merchant_key)
        fallback = self._inflow_fallback_id if amount > 0 else self._fallback_id
        return Categorization(fallback, CategorySource.FALLBACK, merchant_id, merchant_key)


def categorizer_build() -> Categorizer:
    """Read the whole map: a handful of queries, whatever the number of merchants."""
    aliases: dict[str, tuple[int, int | None]] = {
        key: (merchant_id, category_id)
        for key, merchant_id, category_id in MerchantAlias.objects.values_list(
            "key", "merchant_id", "merchant__category_id"
        )
    }
    rules = {
        normalize_descriptor(pattern): category_id
        for pattern, category_id in DescriptorRule.objects.values_list("pattern", "category_id")
    }
    rules.pop("", None)
    fallbacks = dict(
        Category.objects.filter(path__in=[UNCATEGORIZED_PATH, UNCATEGORIZED_INFLOW_PATH]).values_list("path", "id")
    )
    return Categorizer(
        aliases=aliases,
        rules=rules,
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
