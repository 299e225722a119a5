"""Periodic work for the security app (scheduled in mint/schedules.py)."""

from __future__ import annotations

from . import services


def sign_in_failures_prune() -> int:
    """Delete sign-in failure counts of windows long past; idempotent."""
    return services.sign_in_failures_prune()
