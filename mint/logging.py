"""Logging helpers."""

from __future__ import annotations

import logging
import time


class OncePerIntervalFilter(logging.Filter):
    """Let a given message through at most once per interval.

    A dead Redis makes every cache call fail; one warning a minute says so without
    flooding the log with a traceback per request.
    """

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self.interval = interval
        self._last_seen: dict[tuple[str, object], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = time.monotonic()
        last = self._last_seen.get(key)
        if last is not None and now - last < self.interval:
            return False
        self._last_seen[key] = now
        if record.exc_info:
            # Keep the cause, drop the traceback: the failure is in the cache server, not here.
            record.msg = f"{record.msg}: {record.exc_info[1]!r}"
            record.exc_info = None
            record.exc_text = None
        return True
