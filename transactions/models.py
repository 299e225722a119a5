from __future__ import annotations

from django.conf import settings
from django.core.files.storage import storages
from django.db import models

from categories.models import CategorySource


def raw_payload_storage():
    return storages["raw_payloads"]


class RawPayload(models.Model):
    """A statement exactly as received, kept in the object store so any import can be replayed."""

    class Source(models.TextChoices):
        DIRECT = "direct", "Direct connection"
        FILE = "file", "File upload"

    class Status(models.TextChoices):
        RECEIVED = "received"
        IMPORTED = "imported"
        FAILED = "failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="raw_payloads")
    connection = models.ForeignKey(
        "accounts.Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="raw_payloads"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    file = models.FileField(storage=raw_payload_storage, max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)
    file_format = models.CharField(max_length=10, help_text="ofx, qif, csv or simplefin")
    filename = models.CharField(max_length=255, blank=True, help_text="As uploaded")
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The account an uploaded file was imported into",
    )
    csv_mapping = models.JSONField(null=True, blank=True, help_text="The column mapping the user confirmed")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    rows_new = models.PositiveIntegerField(default=0)
    rows_existing = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return self.file.name or f"payload {self.pk}"


class Transaction(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="transactions")
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="transactions")
    external_id = models.CharField(max_length=255, help_text="The institution's id (OFX FITID)")
    posted_on = models.DateField(help_text="Calendar date the bank states, in its own offset")
    amount = models.DecimalField(max_digits=14, decimal_places=2, help_text="Negative = money out")
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=255, help_text="Raw bank descriptor")
    memo = models.CharField(max_length=255, blank=True)
    mcc = models.CharField("MCC", max_length=4, blank=True)
    pending = models.BooleanField(default=False, help_text="Authorised, not posted yet")
    merchant = models.ForeignKey("categories.Merchant", null=True, blank=True, on_delete=models.SET_NULL)
    merchant_key = models.CharField(max_length=120, blank=True, help_text="Normalised descriptor")
    category = models.ForeignKey("categories.Category", on_delete=models.PROTECT, related_name="+")
    category_source = models.CharField(max_length=20, choices=CategorySource.choices)
    raw_payload = models.ForeignKey(RawPayload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Not unique: on PostgreSQL the table is partitioned by posted month, and a unique index
        # there must include posted_on. TransactionKey is the dedupe authority instead.
        indexes = [
            models.Index(fields=["user", "-posted_on", "-id"], name="transaction_user_posted"),
            models.Index(fields=["account", "external_id"], name="transaction_account_external"),
        ]

    def __str__(self) -> str:
        return f"{self.posted_on} {self.description} {self.amount}"

    @property
    def month(self):
        return self.posted_on.replace(day=1)


class TransactionKey(models.Model):
    """One row per stored transaction: (account, bank id) is unique here, whatever the posted date.

    The dedupe key lives outside the transactions table because that table is partitioned by
    posted month on PostgreSQL, and a unique index on a partitioned table must contain the
    partition key: with posted_on in it, a line re-sent with another date (pending, then
    posted a month later) would be stored twice. Written with the rows and deleted with them.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=255)
    # No foreign key: the partitioned table's primary key is (id, posted_on).
    transaction_id = models.BigIntegerField()

    class Meta:
        constraints = [
            # Replays and overlapping statement windows insert nothing twice.
            models.UniqueConstraint(fields=["account", "external_id"], name="transaction_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.external_id} -> {self.transaction_id}"


class MonthlySpending(models.Model):
    """Per (user, month, category): the signed sum of the month's transactions and their count.

    Changed only by deltas written in the same database transaction as the rows that cause
    them, so the totals can never disagree with the transactions.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day of the month")
    category = models.ForeignKey("categories.Category", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=16, decimal_places=2, help_text="Signed sum; negative = money out")
    txn_count = models.IntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "monthly_spending"
        verbose_name_plural = "monthly spending"
        constraints = [
            models.UniqueConstraint(fields=["user", "month", "category"], name="monthly_spending_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.month:%Y-%m} {self.category_id}: {self.amount}"
