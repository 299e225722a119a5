from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Q

from mint.models import TimeStampedModel


class OfxVersion(models.IntegerChoices):
    """The OFX versions a bank may speak: 1.x is SGML, 2.x is XML."""

    V102 = 102, "1.0.2"
    V103 = 103, "1.0.3"
    V151 = 151, "1.5.1"
    V160 = 160, "1.6.0"
    V200 = 200, "2.0.0"
    V201 = 201, "2.0.1"
    V202 = 202, "2.0.2"
    V203 = 203, "2.0.3"
    V210 = 210, "2.1.0"
    V211 = 211, "2.1.1"
    V220 = 220, "2.2.0"


class Institution(models.Model):
    """A bank in the directory, so users pick it instead of typing OFX details."""

    name = models.CharField(max_length=120, unique=True)
    ofx_url = models.URLField(max_length=500)
    ofx_org = models.CharField("OFX ORG", max_length=32, blank=True)
    ofx_fid = models.CharField("OFX FID", max_length=32, blank=True)
    bank_id = models.CharField("bank id (routing number)", max_length=32, blank=True)
    ofx_version = models.PositiveSmallIntegerField("OFX version", choices=OfxVersion.choices, default=OfxVersion.V220)
    app_id = models.CharField(
        "OFX APPID", max_length=5, blank=True, help_text="Client id the bank requires, e.g. QWIN; blank for the default"
    )
    app_version = models.CharField("OFX APPVER", max_length=4, blank=True, help_text="e.g. 2700; blank for the default")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Connection(TimeStampedModel):
    """A login at an institution, through which its accounts are fetched."""

    class Provider(models.TextChoices):
        OFX = "ofx", "OFX Direct Connect"
        SIMPLEFIN = "simplefin", "SimpleFIN"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_ATTENTION = "needs-attention", "Needs attention"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections")
    institution = models.ForeignKey(Institution, null=True, blank=True, on_delete=models.SET_NULL)
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.OFX)
    url = models.URLField(max_length=500, help_text="OFX server, or the SimpleFIN bridge's origin (no login)")
    ofx_org = models.CharField("OFX ORG", max_length=32, blank=True)
    ofx_fid = models.CharField("OFX FID", max_length=32, blank=True)
    bank_id = models.CharField(max_length=32, blank=True)
    ofx_version = models.PositiveSmallIntegerField("OFX version", choices=OfxVersion.choices, default=OfxVersion.V220)
    app_id = models.CharField("OFX APPID", max_length=5, blank=True)
    app_version = models.CharField("OFX APPVER", max_length=4, blank=True)
    # The login (OFX) or access URL (SimpleFIN), Fernet-encrypted with CREDENTIALS_KEYS (never SECRET_KEY).
    encrypted_credentials = models.TextField(editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    history_from = models.DateField(help_text="Earliest date fetched on the first sync")
    last_synced_at = models.DateTimeField(null=True, blank=True, help_text="Last successful sync")
    last_error = models.TextField(blank=True)
    daily_refresh_on = models.DateField(
        null=True, blank=True, editable=False, help_text="Last day the daily refresh queued this connection"
    )

    class Meta:
        indexes = [models.Index(fields=["user", "status"], name="connection_user_status")]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.url}"

    @property
    def display_name(self) -> str:
        if self.institution is not None:
            return self.institution.name
        if self.provider == self.Provider.SIMPLEFIN:
            return "SimpleFIN Bridge"
        return urlsplit(self.url).hostname or self.url


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


class SyncJob(models.Model):
    """One fetch-and-import of a connection, as the user and the API see it.

    At most one job per connection is queued or running (a partial unique constraint), so
    repeated refresh clicks, the daily schedule and a redelivered task all land on the same
    job. Running jobs hold a lease: a worker killed mid-job leaves it to expire, and the
    redelivered task takes the job over. `attempts` counts starts and `transient_failures`
    the starts that ended in a clean retryable error, so the difference is the number of
    starts that never finished: a payload that kills its worker every time is redelivered by
    the queue without end, and that difference is what stops it.
    """

    class Trigger(models.TextChoices):
        LINK = "link", "First link"
        MANUAL = "manual", "Manual refresh"
        DAILY = "daily", "Daily refresh"
        CREDENTIALS = "credentials", "New credentials"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    IN_FLIGHT = (Status.QUEUED, Status.RUNNING)

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_jobs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_try_at = models.DateTimeField(null=True, blank=True, help_text="A queued retry does not start before this")
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    transient_failures = models.PositiveSmallIntegerField(default=0)
    rows_new = models.PositiveIntegerField(default=0)
    rows_existing = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(status__in=["queued", "running"]),
                name="sync_job_one_in_flight_per_connection",
            ),
        ]
        indexes = [models.Index(fields=["connection", "-created_at"], name="sync_job_connection_recent")]

    def __str__(self) -> str:
        return f"sync {self.pk} of connection {self.connection_id}: {self.status}"

    @property
    def in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT
