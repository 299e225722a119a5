import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.providers.base import ProviderDataError
from accounts.providers.files import CsvMapping, csv_preview
from transactions.services import file_import


class Command(BaseCommand):
    help = (
        "Import an OFX, QFX, QIF or CSV statement file into a user's account (created if needed). CSV "
        "columns are detected; check them with --preview and override them with --mapping."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", help="username (required unless --preview)")
        parser.add_argument("--account", help="account name, created if the user has none by that name")
        parser.add_argument("--mapping", help="CSV column mapping as JSON, in the shape --preview prints")
        parser.add_argument("--preview", action="store_true", help="show how a CSV file is read; write nothing")
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options) -> None:
        path: Path = options["file"]
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        if options["preview"]:
            self._preview(raw)
            return
        if not options["user"] or not options["account"]:
            raise CommandError("--user and --account are required to import.")
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        try:
            mapping = CsvMapping.from_dict(json.loads(options["mapping"])) if options["mapping"] else None
            result = file_import(
                user=user, account_name=options["account"], raw=raw, filename=path.name, mapping=mapping
            )
        except json.JSONDecodeError as exc:
            raise CommandError(f"--mapping is not valid JSON: {exc.msg}.") from None
        except ProviderDataError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"{result.new} new, {result.existing} already imported")

    def _preview(self, raw: bytes) -> None:
        try:
            preview = csv_preview(raw)
        except ProviderDataError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"mapping: {json.dumps(preview.mapping.to_dict())}")
        for line in preview.lines:
            self.stdout.write(f"{line.posted_on}  {line.amount:>12}  {line.description}")
        for problem in preview.problems:
            self.stdout.write(f"note: {problem}")
