from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from mint.models import TimeStampedModel


class Budget(TimeStampedModel):
    """A user's monthly amount on a spending category (a parent covers its children)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budgets")
    category = models.ForeignKey("categories.Category", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    approaching_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="When the approaching alert fires, in percent of the budget; empty for the default",
    )

    class Meta:
        ordering = ["category__path"]
        constraints = [models.UniqueConstraint(fields=["user", "category"], name="budget_unique_category")]

    def __str__(self) -> str:
        return f"{self.category} {self.amount}"

    @property
    def approaching_level(self) -> int:
        """This budget's level, else the user's own default, else the site's (80 %).

        Load budgets with `select_related("user__budget_profile")` to read it without a query.
        """
        if self.approaching_percent:
            return self.approaching_percent
        try:
            default = self.user.budget_profile.approaching_percent
        except ObjectDoesNotExist:
            default = None
        return default or settings.BUDGET_ALERT_LEVELS["approaching"]

    @property
    def alert_levels(self) -> list[tuple[str, int]]:
        """(level, percent of the budget), lowest first."""
        return [
            (BudgetAlert.Level.APPROACHING, self.approaching_level),
            (BudgetAlert.Level.EXCEEDED, settings.BUDGET_ALERT_LEVELS["exceeded"]),
        ]


class BudgetAlert(models.Model):
    """An alert that fired. The unique key is what makes each level fire once per month."""

    class Level(models.TextChoices):
        APPROACHING = "approaching"
        EXCEEDED = "exceeded"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey("categories.Category", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    level = models.CharField(max_length=12, choices=Level.choices)
    budget_amount = models.DecimalField(max_digits=12, decimal_places=2)
    spent = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "category", "month", "level"], name="budget_alert_once"),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.month:%Y-%m} {self.level}"


class BudgetProfile(models.Model):
    """What a user told us for budgeting. No row: nothing entered, income is measured."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="budget_profile"
    )
    monthly_income = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Take-home pay per month; used for recommendations instead of the income we measure",
    )
    approaching_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="The approaching alert level of budgets that set none; empty for 80 %",
    )

    def __str__(self) -> str:
        return f"{self.user_id}: income {self.monthly_income}"
