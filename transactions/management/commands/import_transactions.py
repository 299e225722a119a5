from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from transactions.services import file_import


class Command(BaseCommand):
    help = "Import an OFX or QFX statement file into a user's account (created if needed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="username")
        parser.add_argument("--account", required=True, help="account name, created if the user has none by that name")
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        path: Path = options["file"]
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        try:
            result = file_import(user=user, account_name=options["account"], raw=raw, filename=path.name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"{result.new} new, {result.existing} already imported")
