from django.core.management.base import BaseCommand, CommandError

from categories.selectors import category_paths_by_id
from transactions.aggregates import spending_drift, user_id_batches
from transactions.management.scope import add_scope_arguments, scope_from_options


class Command(BaseCommand):
    help = "Compare monthly_spending with the transactions; list any drift and exit non-zero if there is some."

    def add_arguments(self, parser) -> None:
        add_scope_arguments(parser)
        parser.add_argument("--batch-size", type=int, default=2000, help="users compared at a time")

    def handle(self, *args, **options) -> None:
        user_id, month = scope_from_options(options)
        paths = category_paths_by_id()
        users = drifted = 0
        for batch in user_id_batches(user_id=user_id, batch_size=options["batch_size"]):
            users += len(batch)
            for drift in spending_drift(user_ids=batch, month=month):
                drifted += 1
                (stored_amount, stored_count), (amount, count) = drift.stored, drift.actual
                self.stdout.write(
                    f"user {drift.user_id} {drift.month:%Y-%m} {paths.get(drift.category_id, drift.category_id)}: "
                    f"monthly_spending has {stored_amount} in {stored_count} transactions, "
                    f"the transactions sum to {amount} in {count}"
                )
        if drifted:
            raise CommandError(f"{drifted} aggregate rows differ from the transactions ({users:,} users checked).")
        self.stdout.write(f"No drift: monthly_spending matches the transactions for {users:,} users.")
