import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from mint.models import User
from transactions.models import RawPayload
from transactions.services import raw_payload_replay


class Command(BaseCommand):
    help = (
        "Import stored raw payloads (bank fetches and uploaded files) again, oldest first. Only what is "
        "missing is added: replaying what was already imported changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("payload_ids", nargs="*", type=int, help="payload ids (default: all in scope)")
        parser.add_argument("--user", help="username: only this user's payloads")
        parser.add_argument("--connection", type=int, help="connection id: only its fetches")
        parser.add_argument("--since", type=dt.date.fromisoformat, help="YYYY-MM-DD: payloads received from that day")
        parser.add_argument("--failed", action="store_true", help="only payloads whose import failed")

    def handle(self, *args, **options) -> None:
        payloads = RawPayload.objects.select_related("connection", "account").order_by("received_at", "pk")
        if options["payload_ids"]:
            payloads = payloads.filter(pk__in=options["payload_ids"])
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
            payloads = payloads.filter(user=user)
        if options["connection"]:
            payloads = payloads.filter(connection_id=options["connection"])
        if options["since"]:
            payloads = payloads.filter(received_at__date__gte=options["since"])
        if options["failed"]:
            payloads = payloads.filter(status=RawPayload.Status.FAILED)
        replayed = new = errors = 0
        for payload in payloads.iterator(chunk_size=200):
            try:
                result = raw_payload_replay(payload=payload)
            except ValidationError as exc:
                errors += 1
                self.stderr.write(" ".join(exc.messages))
                continue
            replayed += 1
            new += result.new
            if result.new or result.updated:
                self.stdout.write(f"payload {payload.pk}: {result.new} new, {result.updated} updated")
        self.stdout.write(f"{replayed} payloads replayed: {new} new transactions.")
        if errors:
            raise CommandError(f"{errors} payloads could not be replayed.")
