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

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
