from django.core.management.base import BaseCommand

from accounts.services import connections_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt all bank credentials under the newest CREDENTIALS_KEYS key. Put the new key first, keep "
        "the old ones after it, run this, then drop the old keys. Safe to interrupt and run again."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{connections_reencrypt()} connections re-encrypted under the newest key.")
