from django.core.management.base import BaseCommand

from transactions.aggregates import spending_rebuild, user_id_batches
from transactions.management.scope import add_scope_arguments, scope_from_options


class Command(BaseCommand):
    help = "Recompute monthly_spending from the transactions (all users, or one user and/or one month)."

    def add_arguments(self, parser) -> None:
        add_scope_arguments(parser)
        parser.add_argument("--batch-size", type=int, default=2000, help="users per database transaction")

    def handle(self, *args, **options) -> None:
        user_id, month = scope_from_options(options)
        users = rows = 0
        for batch in user_id_batches(user_id=user_id, batch_size=options["batch_size"]):
            rows += spending_rebuild(user_ids=batch, month=month)
            users += len(batch)
            if options["verbosity"] > 1:
                self.stdout.write(f"{users:,} users, {rows:,} aggregate rows")
        self.stdout.write(f"Rebuilt {rows:,} aggregate rows for {users:,} users.")
