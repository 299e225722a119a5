from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class User(AbstractUser):
    """The person who logs in. (`accounts` is the app for linked financial accounts.)"""

    last_active_on = models.DateField(
        null=True, blank=True, editable=False, help_text="Last day seen; the daily refresh covers recent users"
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        indexes = [models.Index(fields=["last_active_on"], name="user_last_active_on")]
