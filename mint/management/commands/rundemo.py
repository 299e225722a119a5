"""`make run`: the demo bank and SimpleFIN Bridge, the task workers and the web server, in one terminal."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# Short enough to finish before a supervisor's own kill; a task cut off is redelivered.
STOP_GRACE_SECONDS = 2


class Command(BaseCommand):
    help = "Run the app with demo data: demo bank, worker cluster and web server. Ctrl-C stops all."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, **options) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("rundemo needs demo mode: run it with DEBUG=1 (or DEMO_MODE=1).")
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        self.children: list[subprocess.Popen] = []
        # Explicit handlers: a shell that starts `make run` in the background leaves SIGINT
        # ignored, and the children would inherit that.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            self._spawn([*manage, "demo_bank", "--port", str(settings.DEMO_BANK_PORT)])
            self._spawn([*manage, "demo_simplefin", "--port", str(settings.DEMO_SIMPLEFIN_PORT)])
            self._wait_for_port(settings.DEMO_BANK_PORT)
            self._wait_for_port(settings.DEMO_SIMPLEFIN_PORT)
            call_command("demo_link", stdout=self.stdout)
            self._spawn([*manage, "qcluster"])
            self._spawn([*manage, "runserver", options["addr"], "--noreload"])
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nMint is running at http://{options['addr']}/ — log in as demo / demo (demo mode only).\n"
                    "Press Ctrl-C to stop.\n"
                )
            )
            while all(child.poll() is None for child in self.children):
                time.sleep(0.5)
            raise CommandError("A process stopped unexpectedly; shutting down.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            self._stop_children()

    def _on_signal(self, signum, frame) -> None:
        raise KeyboardInterrupt

    def _spawn(self, command: list[str]) -> None:
        """Start a child in its own process group, so stopping it reaches all its processes.

        Ctrl-C then reaches only this command, which stops each child once: a second signal
        during django-q2's start-up can leave its cluster processes waiting on a lock forever.
        """
        self.children.append(subprocess.Popen(command, process_group=0))  # noqa: S603  (our own manage.py)

    def _wait_for_port(self, port: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise CommandError(f"The demo server on port {port} did not start.")

    def _stop_children(self) -> None:
        """Ask each child to stop; after the grace period, kill its whole process group."""
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)  # stragglers: the cluster's worker processes
            child.wait()
