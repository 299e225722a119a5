from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """A security-relevant action: who, when, from where. `detail` never holds a secret."""

    class Action(models.TextChoices):
        LOGIN = "login", "Signed in"
        LOGIN_FAILED = "login_failed", "Failed sign-in"
        LOGIN_BLOCKED = "login_blocked", "Sign-in blocked"
        LOGOUT = "logout", "Signed out"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        PASSWORD_RESET_REQUESTED = "password_reset_requested", "Password reset requested"
        PASSWORD_RESET = "password_reset", "Password reset"
        TWO_FACTOR_ENABLED = "two_factor_enabled", "Two-factor sign-in turned on"
        TWO_FACTOR_DISABLED = "two_factor_disabled", "Two-factor sign-in turned off"
        RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
        RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated", "New recovery codes made"
        TOKEN_CREATED = "token_created", "API token created"
        TOKEN_REVOKED = "token_revoked", "API token revoked"
        CONNECTION_LINKED = "connection_linked", "Bank linked"
        CREDENTIALS_REPLACED = "credentials_replaced", "Bank login changed"
        CONNECTION_REMOVED = "connection_removed", "Bank disconnected"
        EXPORT = "export", "Data exported"
        ACCOUNT_DELETED = "account_deleted", "Account deleted"

    # Null for a failed sign-in under a name that matches no user; kept (SET_NULL) after the user is gone.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    action = models.CharField(max_length=40, choices=Action.choices)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"], name="auditevent_user_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()} ({self.user_id})"


class ApiToken(models.Model):
    """A key an app signs in to the API with, one per device. Only a digest of the key is kept:
    the key itself is shown once, when the token is made, and a database dump cannot sign in."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="The device or app it was made for, e.g. “iPhone”")
    # sha256 of the key, hex. A plain digest suffices: keys are 256 random bits, not guessable passwords.
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=16, editable=False, help_text="The key's first characters, to tell tokens apart"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Written at most once an hour per token (API_TOKEN_LAST_USED_PRECISION), on an authentication cache miss.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: valid until revoked")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class SignInFailureCount(models.Model):
    """Failed sign-in attempts (passwords and two-factor codes) against one account or from one
    address, in one fixed window. In the database rather than the cache: a conditional UPDATE
    keeps the count exact across processes on SQLite and PostgreSQL alike, and neither a Redis
    restart, an eviction nor a dead Redis (whose errors the cache swallows) can reset it."""

    class Scope(models.TextChoices):
        ACCOUNT = "account", "Account"
        IP = "ip", "Address"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    # The case-folded username (whether or not such a user exists, so a lock-out tells nobody
    # which names are taken), or the address (an IPv6 address's /64 network).
    key = models.CharField(max_length=150)
    window_start = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)
    # Set once, by the first attempt refused in this window: that one is recorded as LOGIN_BLOCKED.
    blocked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key", "window_start"], name="signinfailurecount_unique")
        ]
        indexes = [models.Index(fields=["window_start"], name="signinfailurecount_window")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} {self.window_start:%Y-%m-%d %H:%M}: {self.failures}"


class RecoveryCode(models.Model):
    """A single-use code that signs in instead of the authenticator app. Only a keyed digest is
    kept (HMAC-SHA256 with SECRET_KEY over a per-code salt and the code): the codes are 80 random
    bits, so a slow password hash would add nothing against guessing and cost a second per
    sign-in (each code has its own salt, so every unused code is tried); without SECRET_KEY a
    database dump cannot even test a guess."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    salt = models.CharField(max_length=32, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [models.Index(fields=["user", "used_at"], name="recoverycode_user_used")]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of {self.user_id}{' (used)' if self.used_at else ''}"
