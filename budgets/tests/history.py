"""Shared test data for the budgets pages."""

from __future__ import annotations

import datetime as dt

from mint.converters import previous_month


def groceries_and_gas(this_month: dt.date) -> list[tuple[dt.date, str, str]]:
    """Groceries and gas in `this_month` and in each of the three complete months before it."""
    last = previous_month(this_month)
    before = previous_month(last)
    third = previous_month(before)
    return [
        (this_month, "-84.27", "WHOLE FOODS MKT #10234"),
        (this_month, "-48.10", "SHELL OIL 57444212"),
        (last, "-120.00", "WHOLE FOODS MKT #10234"),
        (last, "-40.00", "SHELL OIL 57444212"),
        (before, "-100.00", "WHOLE FOODS MKT #10234"),
        (before, "-45.00", "SHELL OIL 57444212"),
        (third, "-110.00", "WHOLE FOODS MKT #10234"),
        (third, "-50.00", "SHELL OIL 57444212"),
    ]
