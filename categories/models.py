from __future__ import annotations

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
    """Fallback: a keyword in the descriptor decides the category ("PAYROLL" -> income/paycheck)."""

    pattern = models.CharField(max_length=120, unique=True, help_text="Normalised keyword or phrase, whole words")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["pattern"]

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
