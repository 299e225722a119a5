from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models


class Notification(models.Model):
    """A notice to a user, shown in the app and (optionally) emailed once."""

    class EmailStatus(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        SKIPPED = "skipped"
        HELD = "held"  # for the daily digest, or until the user's quiet hours end

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=50)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    context = models.JSONField(default=dict, blank=True)
    # The sender's idempotency key: the same notice is never created twice for a user.
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    # Times the email was handed to the mail server, counted just before each hand-over: more
    # than one means a copy may have gone out twice (with one Message-ID, see the services).
    email_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "dedupe_key"], name="notification_unique_key")]
        indexes = [models.Index(fields=["user", "-created_at"], name="notification_user_created")]

    def __str__(self) -> str:
        return self.subject


class NotificationPreferences(models.Model):
    """How a user wants notices. No row means the defaults: everything on, emails at once."""

    class EmailMode(models.TextChoices):
        IMMEDIATE = "immediate", "As it happens"
        DIGEST = "digest", "One email a day"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    email_enabled = models.BooleanField("Email me", default=True)
    in_app_enabled = models.BooleanField("Show the unread count in the app", default=True)
    email_mode = models.CharField(max_length=10, choices=EmailMode.choices, default=EmailMode.IMMEDIATE)
    quiet_start = models.TimeField(null=True, blank=True, help_text="No email from this time...")
    quiet_end = models.TimeField(null=True, blank=True, help_text="...until this time (the site's time zone)")
    last_digest_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "notification preferences"

    def __str__(self) -> str:
        return f"{self.user_id}: email {'on' if self.email_enabled else 'off'}, {self.email_mode}"

    def is_quiet(self, at: dt.time) -> bool:
        """Whether `at` (local time) falls in the quiet hours, which may span midnight."""
        if self.quiet_start is None or self.quiet_end is None or self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= at < self.quiet_end
        return at >= self.quiet_start or at < self.quiet_end
