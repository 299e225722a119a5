import datetime as dt


class MonthConverter:
    """`2026-11` in a URL <-> the month's first day."""

    regex = r"[0-9]{4}-[0-9]{2}"

    def to_python(self, value: str) -> dt.date:
        try:
            return dt.date(int(value[:4]), int(value[5:]), 1)
        except ValueError:
            raise ValueError(f"{value} is not a month") from None

    def to_url(self, value: dt.date) -> str:
        return f"{value:%Y-%m}"
