"""The `--user` and `--month` arguments the aggregate commands share."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError

from mint.converters import MonthConverter
from mint.models import User


def add_scope_arguments(parser) -> None:
    parser.add_argument("--user", help="username (default: every user)")
    parser.add_argument("--month", help="YYYY-MM (default: every month)")


def scope_from_options(options: dict) -> tuple[int | None, dt.date | None]:
    user_id = month = None
    if options["user"]:
        user_id = User.objects.filter(username=options["user"]).values_list("pk", flat=True).first()
        if user_id is None:
            raise CommandError(f"No user {options['user']!r}.")
    if options["month"]:
        try:
            month = MonthConverter().to_python(options["month"])
        except ValueError:
            raise CommandError("--month must be YYYY-MM.") from None
    return user_id, month
