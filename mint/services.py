"""Writes to users."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .models import User


def demo_user_ensure(*, username: str, password: str) -> User:
    """The demo user with a known password; demo mode only, never in production."""
    if not settings.DEMO_MODE:
        raise ImproperlyConfigured("The demo user exists only in demo mode (DEMO_MODE=1 or DEBUG=1).")
    user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user
