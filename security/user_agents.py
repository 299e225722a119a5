"""A User-Agent header in words a person recognises ("Firefox on Windows"), for the activity list.

Deliberately rough: a handful of substring checks, no parser dependency. The raw header is kept
on the event for staff; this only has to let someone tell their phone from their laptop.
"""

from __future__ import annotations

# First match wins: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("okhttp", "Android app"),
    ("CFNetwork", "iOS app"),
    ("curl/", "curl"),
    ("python-requests", "Python script"),
]
_SYSTEMS = [
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
]


def user_agent_summary(user_agent: str) -> str:
    if not user_agent:
        return "Unknown"
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or user_agent[:40]
