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


# Line breaks and other control characters a log line must not carry raw: a bank's payee or
# error text with "\r\n[ERROR] ..." would otherwise print a second, forged record.
_CONTROL_ESCAPES = {
    code: f"\\x{code:02x}"
    for code in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)  # C0 but tab, and DEL
} | {
    0x0A: "\\n",
    0x0D: "\\r",
    0x85: "\\x85",  # NEL, U+2028 and U+2029: line breaks to some log viewers
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def single_line(text: str) -> str:
    """`text` with CR, LF and every other control character written as an escape: one line."""
    return text.translate(_CONTROL_ESCAPES)


class SingleLineFormatter(logging.Formatter):
    """One record, one line that starts with the record's own prefix.

    The message, with its arguments filled in (where bank text arrives), is escaped by
    `single_line`. A traceback keeps its lines for reading, but each is indented and
    escaped, so an exception message with a line break cannot start a line of its own.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = single_line(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join("    " + single_line(line) for line in text.split("\n"))
