import datetime as dt
import re

# Months the app can represent, with room to compute the month after.
FIRST_YEAR = 1900
LAST_YEAR = 9998


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


class MonthConverter:
    """`2026-11` in a URL <-> the month's first day."""

    regex = r"[0-9]{4}-[0-9]{2}"

    def to_python(self, value: str) -> dt.date:
        try:
            month = dt.date(int(value[:4]), int(value[5:]), 1)
        except ValueError:
            raise ValueError(f"{value} is not a month") from None
        if not FIRST_YEAR <= month.year <= LAST_YEAR:
            raise ValueError(f"{value} is out of range")
        return month

    def to_url(self, value: dt.date) -> str:
        return f"{value:%Y-%m}"


def month_from_query(value: str | None) -> dt.date | None:
    """`?month=YYYY-MM`; anything else (missing, malformed, out of range) is None."""
    if not value or not re.fullmatch(MonthConverter.regex, value):
        return None
    try:
        return MonthConverter().to_python(value)
    except ValueError:
        return None
