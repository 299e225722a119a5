"""Task entry points: ids in, one service call."""

from __future__ import annotations

from . import services


def daily_refresh_enqueue() -> int:
    return services.daily_refresh_enqueue()


def sync_jobs_recover() -> int:
    return services.sync_jobs_recover()
