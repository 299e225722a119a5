from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from mint.models import TimeStampedModel


class Institution(models.Model):
    """A bank in the directory, so users pick it instead of typing OFX details."""

    name = models.CharField(max_length=120, unique=True)
    ofx_url = models.URLField(max_length=500)
    ofx_org = models.CharField("OFX ORG", max_length=32, blank=True)
    ofx_fid = models.CharField("OFX FID", max_length=32, blank=True)
    bank_id = models.CharField("bank id (routing number)", max_length=32, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Connection(TimeStampedModel):
    """A login at an institution, through which its accounts are fetched."""

    class Provider(models.TextChoices):
        OFX = "ofx", "OFX Direct Connect"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_ATTENTION = "needs-attention", "Needs attention"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections")
    institution = models.ForeignKey(Institution, null=True, blank=True, on_delete=models.SET_NULL)
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.OFX)
    url = models.URLField(max_length=500)
    ofx_org = models.CharField("OFX ORG", max_length=32, blank=True)
    ofx_fid = models.CharField("OFX FID", max_length=32, blank=True)
    bank_id = models.CharField(max_length=32, blank=True)
    # Login and password, Fernet-encrypted with CREDENTIALS_KEYS (never SECRET_KEY).
    encrypted_credentials = models.TextField(editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    history_from = models.DateField(help_text="Earliest date fetched on the first sync")
    last_synced_at = models.DateTimeField(null=True, blank=True, help_text="Last successful sync")
    last_error = models.TextField(blank=True)
    # Held while a sync runs, so a redelivered or repeated job for this connection is a no-op.
    sync_lock_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Syncs started since the last one that finished. A payload that kills its worker is
    # redelivered by the queue without end; this count is what stops it.
    sync_attempts = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        indexes = [models.Index(fields=["user", "status"], name="connection_user_status")]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.url}"


class Account(TimeStampedModel):
    """A bank, card or investment account; linked through a connection or filled from files."""

    class Kind(models.TextChoices):
        CHECKING = "checking"
        SAVINGS = "savings"
        CREDIT_CARD = "credit-card", "Credit card"
        INVESTMENT = "investment"
        OTHER = "other"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="financial_accounts")
    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.CASCADE, related_name="accounts")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CHECKING)
    external_id = models.CharField(max_length=64, blank=True, help_text="The institution's account id (OFX ACCTID)")
    external_type = models.CharField(max_length=20, blank=True, help_text="The institution's type (OFX ACCTTYPE)")
    bank_id = models.CharField(max_length=32, blank=True, help_text="Routing number or broker id")
    currency = models.CharField(max_length=3, default="USD")
    balance = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    balance_as_of = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"],
                condition=Q(connection__isnull=False),
                name="account_unique_external_id_per_connection",
            ),
            # The same account linked twice would import every transaction twice.
            models.UniqueConstraint(
                fields=["user", "bank_id", "external_id"],
                condition=Q(connection__isnull=False),
                name="account_linked_once_per_user",
            ),
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=Q(connection__isnull=True),
                name="account_unique_name_for_file_imports",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def number_hint(self) -> str:
        return f"••{self.external_id[-4:]}" if self.external_id else ""
