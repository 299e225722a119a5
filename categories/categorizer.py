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
from .normalize import descriptor_tokens, merchant_key, name_key, normalize_descriptor

MAP_VERSION_KEY = "categories:map-version"


@dataclass(frozen=True, slots=True)
class Categorization:
    category_id: int
    source: str
    merchant_id: int | None
    merchant_key: str  # the merchant's identity for user rules, votes and the curation queue


_key_for_tokens = lru_cache(maxsize=200_000)(merchant_key)


@dataclass(frozen=True)
class Rule:
    priority: int
    kind: str  # DescriptorRule.Kind
    pattern: str
    direction: str  # DescriptorRule.Direction
    category_id: int


def _fits(direction: str, amount: Decimal) -> bool:
    return direction == "any" or (direction == "in") == (amount > 0)


class _RuleLevel:
    """The rules of one priority: regular expressions in order, then the longest keyword."""

    def __init__(self, rules: list[Rule]) -> None:
        self.regexes = [
            (re.compile(rule.pattern), rule.direction, rule.category_id) for rule in rules if rule.kind == "regex"
        ]
        self.keywords: dict[str, list[tuple[str, int]]] = {}
        for rule in rules:
            if rule.kind != "regex":
                self.keywords.setdefault(rule.pattern, []).append((rule.direction, rule.category_id))
        # Longest first, so "INTEREST CHARGE" wins over "INTEREST" at the same spot.
        ordered = sorted(self.keywords, key=len, reverse=True)
        self.keyword_regex = re.compile(r"\b(?:" + "|".join(map(re.escape, ordered)) + r")\b") if ordered else None

    def match(self, descriptor: str, text: str, amount: Decimal) -> int | None:
        if self.regexes:
            upper = descriptor.upper()
            for pattern, direction, category_id in self.regexes:
                if _fits(direction, amount) and pattern.search(upper):
                    return category_id
        if self.keyword_regex is not None:
            for found in sorted(set(self.keyword_regex.findall(text)), key=len, reverse=True):
                for direction, category_id in self.keywords[found]:
                    if _fits(direction, amount):
                        return category_id
        return None


class Categorizer:
    def __init__(
        self,
        *,
        aliases: dict[str, tuple[int, int | None]],
        merchant_keys: dict[int, str],
        crowd: dict[str, int],
        rules: list[Rule],
        mcc: dict[str, int],
        fallback_id: int,
        inflow_fallback_id: int,
    ) -> None:
        self._aliases = aliases
        # The longest alias starting with each word: most descriptors need one lookup, not six.
        self._alias_sizes: dict[str, int] = {}
        for alias in aliases:
            words = alias.split()
            self._alias_sizes[words[0]] = max(self._alias_sizes.get(words[0], 0), len(words))
        self._merchant_keys = merchant_keys
        self._crowd = crowd
        self._rule_levels = [
            _RuleLevel([rule for rule in rules if rule.priority == priority])
            for priority in sorted({rule.priority for rule in rules}, reverse=True)
        ]
        self._mcc = mcc
        self._fallback_id = fallback_id
        self._inflow_fallback_id = inflow_fallback_id

    def _merchant(self, tokens: tuple[str, ...]) -> tuple[int, int | None] | None:
        """(merchant id, curated category id) for the longest alias the descriptor starts with.

        A lone letter in front ("C , TESCO STORES", a card-type flag some exports print) is
        skipped if nothing matches with it; it cannot be dropped while normalising, because
        "T MOBILE" or "E ON" need theirs.
        """
        match = self._alias_at(tokens)
        if match is None and len(tokens) > 1 and len(tokens[0]) == 1:
            match = self._alias_at(tokens[1:])
        return match

    def _alias_at(self, tokens: tuple[str, ...]) -> tuple[int, int | None] | None:
        if not tokens:
            return None
        longest = self._alias_sizes.get(tokens[0], 0)
        for size in range(min(len(tokens), longest), 0, -1):
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
        text = " ".join(tokens)
        for level in self._rule_levels:
            if (category_id := level.match(descriptor, text, amount)) is not None:
                return Categorization(category_id, CategorySource.PATTERN, merchant_id, key)
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
    rules = []
    for priority, kind, pattern, direction, category_id in DescriptorRule.objects.values_list(
        "priority", "kind", "pattern", "direction", "category_id"
    ).order_by("pk"):
        if kind != DescriptorRule.Kind.REGEX:
            pattern = normalize_descriptor(pattern)
        if pattern:
            rules.append(Rule(priority, kind, pattern, direction, category_id))
    fallbacks = dict(
        Category.objects.filter(path__in=[UNCATEGORIZED_PATH, UNCATEGORIZED_INFLOW_PATH]).values_list("path", "id")
    )
    return Categorizer(
        aliases=aliases,
        merchant_keys={pk: name_key(name) for pk, name in Merchant.objects.values_list("pk", "name")},
        crowd=dict(CrowdCategory.objects.values_list("merchant_key", "category_id")),
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
