import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.demo_bank.server import DemoBankServer


class Command(BaseCommand):
    help = "Serve the demo bank (an OFX Direct Connect server) on loopback."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=settings.DEMO_BANK_PORT)

    def handle(self, *args, **options) -> None:
        server = DemoBankServer(port=options["port"])
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop like Ctrl-C
        self.stdout.write(f"Demo bank listening at {server.url}")
        try:
            server.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
