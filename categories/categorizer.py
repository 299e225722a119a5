"""The categorizer: the merchant map, crowd consensus, rules and MCC table held in memory.

Ingestion categorizes thousands of rows per import, so nothing here queries the database
per transaction. Each process keeps one loaded `Categorizer` and reloads it when the map
version in the cache changes (every edit through `categories.services` bumps it, after
commit). Resolution order, first hit wins (the user's manual choice is on the row and
never comes here):
  user rule > curated merchant map > crowd consensus > provider MCC > pattern rules > fallback.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import regex
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
from .normalize import FOLD_DIGITS, descriptor_tokens, has_digits, merchant_key, normalize_descriptor

logger = logging.getLogger(__name__)
MAP_VERSION_KEY = "categories:map-version"
UNVERSIONED_MAX_AGE = 60.0  # seconds a map is trusted while the cache cannot say its version
DECISION_CACHE_SIZE = 50_000
SHAPE_SAFE_SOURCES = frozenset([CategorySource.MERCHANT_MAP, CategorySource.CROWD, CategorySource.PROVIDER])


@dataclass(frozen=True, slots=True)
class Categorization:
    category_id: int
    source: str
    merchant_id: int | None
    merchant_key: str  # the merchant's identity for user rules, votes and the curation queue


_key_for_tokens = lru_cache(maxsize=50_000)(merchant_key)


@dataclass(frozen=True)
class Rule:
    priority: int
    kind: str  # DescriptorRule.Kind
    pattern: str
    direction: str  # DescriptorRule.Direction
    category_id: int


_DIGITS = range(ord("0"), ord("9") + 1)
REGEX_TIMEOUT = 0.01  # seconds: a staff rule that backtracks without end must not stall imports


def _search(pattern: regex.Pattern[str], text: str) -> bool:
    try:
        return pattern.search(text, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        logger.warning("descriptor rule %r timed out and was skipped", pattern.pattern)
        return False


def _reads_digit_values(pattern: str) -> bool:
    """Whether a regular expression can tell one digit from another.

    `\\d`, `[0-9]` and `{2,4}` cannot; a literal 7, a range like `[0-5]` or a back-reference
    can. Decided on the pattern as Python's own parser reads it; anything that will not
    parse counts as reading digits.
    """
    sre = importlib.import_module("re._constants")
    parser = importlib.import_module("re._parser")
    nested = {sre.SUBPATTERN: -1, sre.MAX_REPEAT: 2, sre.MIN_REPEAT: 2, sre.POSSESSIVE_REPEAT: 2, sre.ASSERT: 1}
    nested[sre.ASSERT_NOT] = 1

    def some_digits(lo: int, hi: int) -> bool:
        return lo <= _DIGITS[-1] and hi >= _DIGITS[0] and not (lo <= _DIGITS[0] and hi >= _DIGITS[-1])

    def reads(items) -> bool:
        for op, arg in items:
            if op in (sre.LITERAL, sre.NOT_LITERAL) and arg in _DIGITS:
                return True
            if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
                return True
            if op is sre.IN and any(
                (item_op in (sre.LITERAL, sre.NOT_LITERAL) and item in _DIGITS)
                or (item_op is sre.RANGE and some_digits(*item))
                for item_op, item in arg
            ):
                return True
            if op in nested and reads(arg[nested[op]]):
                return True
            if op is sre.BRANCH and any(reads(branch) for branch in arg[1]):
                return True
            if op is sre.ATOMIC_GROUP and reads(arg):
                return True
        return False

    try:
        return reads(parser.parse(pattern))
    except Exception:
        return True


def _fits(direction: str, inflow: bool) -> bool:
    return direction == "any" or (direction == "in") == inflow


class RuleSet:
    """Pattern rules: the highest priority wins; within a priority a regular expression, then
    the longest keyword. Keywords are whole normalised words, so they are looked up as word
    n-grams of the descriptor in a dictionary, not searched for one by one.
    """

    def __init__(self, rules: list[Rule]) -> None:
        compiled = []
        for rule in rules:
            if rule.kind == "regex":
                try:
                    compiled.append((rule.priority, regex.compile(rule.pattern), rule.direction, rule.category_id))
                except regex.error:
                    logger.error("skipping descriptor rule %r: not a valid regular expression", rule.pattern)
        self.regexes = sorted(compiled, key=lambda item: -item[0])
        self.keywords: dict[tuple[str, ...], list[tuple[int, int, str, int]]] = {}
        for rule in rules:
            if rule.kind != "regex":
                words = tuple(rule.pattern.split())
                self.keywords.setdefault(words, []).append(
                    (rule.priority, len(rule.pattern), rule.direction, rule.category_id)
                )
        self.max_words = max((len(words) for words in self.keywords), default=0)

    def match(self, descriptor: str, tokens: tuple[str, ...], inflow: bool) -> int | None:
        best: tuple[int, int, int] | None = None  # (priority, keyword length, category)
        count = len(tokens)
        for start in range(count):
            for size in range(1, min(self.max_words, count - start) + 1):
                for priority, length, direction, category_id in self.keywords.get(tokens[start : start + size], ()):
                    if _fits(direction, inflow) and (best is None or (priority, length) > best[:2]):
                        best = (priority, length, category_id)
        if self.regexes:
            upper = descriptor.upper()
            for priority, pattern, direction, category_id in self.regexes:
                if best is not None and priority < best[0]:
                    break
                if _fits(direction, inflow) and _search(pattern, upper):
                    return category_id
        return best[2] if best is not None else None


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
        self._rules = RuleSet(rules)
        self._mcc = mcc
        self._fallback_id = fallback_id
        self._inflow_fallback_id = inflow_fallback_id
        # Statements repeat descriptors, and a decision depends on nothing but the descriptor,
        # the direction of the money and the MCC (user rules apply on top), so recent ones are
        # kept: by shape (digits read as 0) when digits cannot have mattered, else by text.
        # Keyed by (text, inflow, (mcc, provider category)).
        self._by_shape: dict[tuple[str, bool, tuple[str, int | None]], Categorization] = {}
        self._by_text: dict[tuple[str, bool, tuple[str, int | None]], Categorization] = {}
        self._shape_safe = SHAPE_SAFE_SOURCES
        if not any(rule.kind == "regex" and _reads_digit_values(rule.pattern) for rule in rules):
            self._shape_safe = frozenset(CategorySource)  # no rule can tell "88" from "12"

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
        self,
        descriptor: str,
        *,
        amount: Decimal,
        mcc: str = "",
        provider_category: int | None = None,
        user_rules: Mapping[str, int] | None = None,
    ) -> Categorization:
        """`provider_category`: the category the source itself gave, weighed like its MCC."""
        inflow = amount > 0
        shape = descriptor.translate(FOLD_DIGITS)
        hint = (mcc, provider_category)
        decided = self._by_shape.get((shape, inflow, hint)) or self._by_text.get((descriptor, inflow, hint))
        if decided is None:
            tokens = descriptor_tokens(descriptor, shape)
            decided = self._decide(descriptor, tokens, inflow, mcc, provider_category)
            # Only the rules read the raw text (a regular expression may test digits), and a
            # short number can survive into the words: otherwise the shape decides alike.
            by_shape = decided.source in self._shape_safe and not has_digits(tokens)
            memo = self._by_shape if by_shape else self._by_text
            if len(memo) >= DECISION_CACHE_SIZE:
                memo.clear()
            memo[(shape if by_shape else descriptor, inflow, hint)] = decided
        if user_rules and (category_id := user_rules.get(decided.merchant_key)) is not None:
            return Categorization(category_id, CategorySource.USER_RULE, decided.merchant_id, decided.merchant_key)
        return decided

    def _decide(
        self, descriptor: str, tokens: tuple[str, ...], inflow: bool, mcc: str, provider_category: int | None
    ) -> Categorization:
        """Every step after the user's own rules, which the caller applies on top."""
        match = self._merchant(tokens)
        merchant_id, curated = match if match is not None else (None, None)
        key = self._merchant_keys[merchant_id] if merchant_id is not None else _key_for_tokens(tokens)
        if curated is not None:
            return Categorization(curated, CategorySource.MERCHANT_MAP, merchant_id, key)
        if (category_id := self._crowd.get(key)) is not None:
            return Categorization(category_id, CategorySource.CROWD, merchant_id, key)
        if provider_category is not None:
            return Categorization(provider_category, CategorySource.PROVIDER, merchant_id, key)
        if mcc and (category_id := self._mcc.get(mcc)) is not None:
            return Categorization(category_id, CategorySource.PROVIDER, merchant_id, key)
        if (category_id := self._rules.match(descriptor, tokens, inflow)) is not None:
            return Categorization(category_id, CategorySource.PATTERN, merchant_id, key)
        fallback = self._inflow_fallback_id if inflow else self._fallback_id
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
        merchant_keys=dict(Merchant.objects.values_list("pk", "key")),
        crowd=dict(CrowdCategory.objects.values_list("merchant_key", "category_id")),
        rules=rules,
        mcc=dict(MerchantCategoryCode.objects.values_list("code", "category_id")),
        fallback_id=fallbacks[UNCATEGORIZED_PATH],
        inflow_fallback_id=fallbacks[UNCATEGORIZED_INFLOW_PATH],
    )


_lock = threading.Lock()
_loaded: tuple[str | None, float, Categorizer] | None = None


def get_categorizer() -> Categorizer:
    """This process's categorizer, rebuilt when another process changed the map.

    The map's version lives in the cache. With no version there (an emptied cache), this
    process starts one, so every process rebuilds once. If the cache cannot be reached at all,
    the loaded map is used for up to a minute before it is rebuilt from the database.
    """
    global _loaded
    version = cache.get(MAP_VERSION_KEY)
    if version is None:
        cache.add(MAP_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(MAP_VERSION_KEY)
    with _lock:
        now = time.monotonic()
        if _loaded is not None and (
            (version is not None and _loaded[0] == version)
            or (version is None and now - _loaded[1] < UNVERSIONED_MAX_AGE)
        ):
            return _loaded[2]
        _loaded = (version, now, categorizer_build())
        return _loaded[2]


def categorizer_invalidate() -> None:
    cache.set(MAP_VERSION_KEY, uuid.uuid4().hex, timeout=None)
