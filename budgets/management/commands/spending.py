import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from budgets.selectors import spending_for_month
from budgets.serializers import SpendingOutputSerializer
from mint.converters import MonthConverter


class Command(BaseCommand):
    help = "Print a user's spending for a month, as GET /api/v1/spending/current returns it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="username")
        parser.add_argument("--month", help="YYYY-MM (default: this month)")

    def handle(self, *args, **options) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        month = None
        if options["month"]:
            try:
                month = MonthConverter().to_python(options["month"])
            except ValueError:
                raise CommandError("--month must be YYYY-MM.") from None
        spending = spending_for_month(user=user, month=month)
        self.stdout.write(json.dumps(SpendingOutputSerializer(spending).data, indent=2))
