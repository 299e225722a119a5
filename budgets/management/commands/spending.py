import json

from django.core.management.base import BaseCommand, CommandError

from budgets.selectors import current_month, spending_summary
from budgets.serializers import SpendingOutputSerializer
from transactions.management.scope import add_scope_arguments, scope_from_options


class Command(BaseCommand):
    help = "Print a user's spending for a month (default: this month), as GET /api/v1/spending/... returns it."

    def add_arguments(self, parser) -> None:
        add_scope_arguments(parser)

    def handle(self, *args, **options) -> None:
        user_id, month = scope_from_options(options)
        if user_id is None:
            raise CommandError("--user is required.")
        summary = spending_summary(user_id=user_id, month=month or current_month())
        self.stdout.write(json.dumps(SpendingOutputSerializer(summary).data, indent=2))
