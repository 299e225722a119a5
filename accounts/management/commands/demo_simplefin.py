import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.demo_bank.simplefin import DemoSimpleFinServer, demo_secret


class Command(BaseCommand):
    help = "Serve the demo SimpleFIN Bridge on loopback and print a setup token to connect it with."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=settings.DEMO_SIMPLEFIN_PORT)
        parser.add_argument("--login", default="demo", help="the demo persona whose accounts the bridge serves")
        parser.add_argument("--tokens", type=int, default=1, help="how many one-time setup tokens to print")

    def handle(self, *args, **options) -> None:
        # Signed with a key derived from SECRET_KEY: access URLs handed out keep working after a restart,
        # and the demo web app can mint setup tokens itself.
        server = DemoSimpleFinServer(port=options["port"], login=options["login"], secret=demo_secret())
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop like Ctrl-C
        self.stdout.write(f"Demo SimpleFIN Bridge listening at {server.url}")
        if not settings.DEMO_MODE:
            self.stdout.write("Note: the app connects to http:// and loopback addresses only with DEMO_MODE on.")
        self.stdout.write("Setup tokens (each works once):")
        for _ in range(max(1, options["tokens"])):
            self.stdout.write(f"  {server.setup_token()}")
        try:
            server.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
