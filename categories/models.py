from __future__ import annotations

from django.conf import settings
from django.db import models

from mint.models import TimeStampedModel


class Category(models.Model):
    class Kind(models.TextChoices):
        SPENDING = "spending"
        INCOME = "income"
        TRANSFER = "transfer"

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    slug = models.SlugField(max_length=40)
    name = models.CharField(max_length=60)
    path = models.CharField(max_length=90, unique=True, help_text="parent/child, as used by the API")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SPENDING)

    class Meta:
        ordering = ["path"]
        verbose_name_plural = "categories"
        constraints = [models.UniqueConstraint(fields=["parent", "slug"], name="category_unique_slug_per_parent")]

    def __str__(self) -> str:
        return self.path

    @property
    def is_spending(self) -> bool:
        return self.kind == self.Kind.SPENDING


class Merchant(TimeStampedModel):
    """A business behind bank descriptors, with the category the curated map gives it."""

    name = models.CharField(max_length=120, unique=True)
    # The merchant's identity for user rules and votes; set once, so renaming keeps them.
    key = models.CharField(max_length=120, db_index=True, editable=False)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MerchantAlias(models.Model):
    """A normalised descriptor prefix that names a merchant ("AMZN MKTP" -> Amazon)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="aliases")
    key = models.CharField(max_length=120, unique=True)

    class Meta:
        verbose_name_plural = "merchant aliases"

    def __str__(self) -> str:
        return self.key


class DescriptorRule(TimeStampedModel):
    """Fallback: the descriptor decides the category ("PAYROLL" -> income/paycheck).

    Higher priority first; within a priority, regular expressions before keywords, and the
    longest keyword that matches. A direction limits a rule to money in or money out
    ("INTEREST" is income in, a fee out).
    """

    class Kind(models.TextChoices):
        KEYWORD = "keyword", "Keyword (whole words, normalised)"
        REGEX = "regex", "Regular expression (on the raw descriptor, upper case)"

    class Direction(models.TextChoices):
        ANY = "any", "Money in or out"
        IN = "in", "Money in"
        OUT = "out", "Money out"

    pattern = models.CharField(max_length=1000)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.KEYWORD)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.ANY)
    priority = models.SmallIntegerField(default=0, help_text="Higher first; processor defaults are -1")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-priority", "pattern"]
        constraints = [models.UniqueConstraint(fields=["pattern", "direction"], name="descriptor_rule_unique")]

    def __str__(self) -> str:
        return f"{self.pattern} -> {self.category}"


class MerchantCategoryCode(models.Model):
    """ISO 18245 merchant category code (OFX <SIC>) mapped to a category."""

    code = models.CharField(max_length=4, primary_key=True)
    description = models.CharField(max_length=200, blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class CategorySource(models.TextChoices):
    """What decided a transaction's category, in the order the categorizer tries them."""

    MANUAL = "manual"
    USER_RULE = "user-rule"
    MERCHANT_MAP = "merchant-map"
    CROWD = "crowd"
    PROVIDER = "provider"
    PATTERN = "pattern"
    FALLBACK = "fallback"


class UserRule(TimeStampedModel):
    """A user's "always put this merchant in this category", for their future transactions."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="category_rules")
    merchant_key = models.CharField(max_length=120)
    merchant_name = models.CharField(max_length=120, help_text="The merchant as the user saw it")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["merchant_name"]
        constraints = [models.UniqueConstraint(fields=["user", "merchant_key"], name="user_rule_one_per_merchant")]

    def __str__(self) -> str:
        return f"{self.merchant_name} -> {self.category}"


class CategoryVote(models.Model):
    """A user's manual choice of category for a merchant: one vote per user and merchant."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    merchant_key = models.CharField(max_length=120)
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant_key", "user"], name="category_vote_one_per_user")]

    def __str__(self) -> str:
        return f"{self.merchant_key} -> {self.category}"


class CrowdCategory(models.Model):
    """The category enough distinct users agree on for a merchant (kept in step with the votes)."""

    merchant_key = models.CharField(max_length=120, primary_key=True)
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    voters = models.PositiveIntegerField(help_text="Users who chose this category")
    total_voters = models.PositiveIntegerField(help_text="Users who chose any category for this merchant")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "crowd categories"

    def __str__(self) -> str:
        return f"{self.merchant_key} -> {self.category} ({self.voters}/{self.total_voters})"


class UnmatchedMerchant(models.Model):
    """A merchant nothing recognised (its transactions went to the fallback): the curation queue."""

    merchant_key = models.CharField(max_length=120, primary_key=True)
    txn_count = models.PositiveIntegerField(default=0)
    user_count = models.PositiveIntegerField(default=0)
    example = models.CharField(max_length=255, help_text="A raw descriptor, as a bank printed it")
    last_seen = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["-user_count", "-txn_count"], name="unmatched_merchant_rank")]

    def __str__(self) -> str:
        return self.merchant_key


class UnmatchedMerchantUser(models.Model):
    """Who has met an unmatched merchant, so the queue can rank by people affected."""

    merchant_key = models.CharField(max_length=120)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant_key", "user"], name="unmatched_merchant_user_once"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_key} / {self.user_id}"
