from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.demo_bank.persona import PASSWORD
from accounts.models import Connection, Institution, SyncJob
from accounts.providers.base import ProviderError
from mint.services import demo_user_ensure


class Command(BaseCommand):
    help = "Create the demo user and link it to the demo bank, or queue a refresh if already linked."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo")
        parser.add_argument("--bank-url", default=f"http://127.0.0.1:{settings.DEMO_BANK_PORT}/ofx")
        parser.add_argument("--history-days", type=int, default=365)

    def handle(self, *args, **options) -> None:
        user = demo_user_ensure(username=options["username"], password=options["password"])
        # The demo bank in the institution directory, so the link page has one to pick.
        Institution.objects.update_or_create(name="Demo Bank", defaults={"ofx_url": options["bank_url"]})
        connections = Connection.objects.filter(user=user, url=options["bank_url"])
        if connections:
            for connection in connections:
                services.sync_job_request(connection=connection, trigger=SyncJob.Trigger.MANUAL)
            self.stdout.write(f"{user.username} is linked to the demo bank; refresh queued.")
            return
        try:
            connection = services.connection_create(
                user=user,
                url=options["bank_url"],
                login=user.username,
                password=PASSWORD,
                history_days=options["history_days"],
            )
        except ProviderError as exc:
            raise CommandError(f"Could not link the demo bank: {exc}") from None
        self.stdout.write(f"Linked {user.username} to the demo bank ({connection.accounts.count()} accounts).")
