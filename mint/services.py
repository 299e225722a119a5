"""Writes to users."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

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


# Users this process has already marked active, and on which day: most requests cost no query.
_marked_active: dict[int, dt.date] = {}
_MARKED_ACTIVE_MAX = 100_000


def user_mark_active(*, user_id: int, today: dt.date) -> None:
    """Record that the user was seen today, for the daily refresh: at most one write per user per day.

    The UPDATE only matches while the stored day is older, so every process together writes
    the row once a day; each process asks at most once per user per day.
    """
    if _marked_active.get(user_id) == today:
        return
    if len(_marked_active) >= _MARKED_ACTIVE_MAX:
        _marked_active.clear()
    User.objects.filter(Q(last_active_on__isnull=True) | Q(last_active_on__lt=today), pk=user_id).update(
        last_active_on=today
    )
    _marked_active[user_id] = today
