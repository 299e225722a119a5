"""A loopback SMTP server for tests: real SMTP over TCP, every message kept, and a point where it
can stall so a test can kill the sender there.

Only what Django's SMTP backend says is spoken (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT;
no TLS, no AUTH). A message counts as accepted, as a real mail server would count it, once its
data has arrived: it is kept before the reply that tells the sender so.
"""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
from email.message import EmailMessage
from typing import Literal

StallPoint = Literal["greeting", "accepted"] | None


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.messages: list[EmailMessage] = []
        self.stall_at: StallPoint = None
        self.stalled = threading.Event()  # set when a session reaches `stall_at`
        self.release = threading.Event()  # a stalled session waits for this (or its sender's death)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stall(self, point: StallPoint) -> None:
        self.stall_at = point
        self.stalled.clear()
        self.release.clear()

    def _maybe_stall(self, point: str) -> None:
        if self.stall_at == point:
            self.stall_at = None  # once: the redelivery goes through
            self.stalled.set()
            self.release.wait(timeout=60)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a sender killed mid-conversation: its session just ends

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class _Session(socketserver.StreamRequestHandler):
    server: SmtpServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.server._maybe_stall("greeting")
        self.reply("220 127.0.0.1 ESMTP test server")
        while line := self.rfile.readline():
            verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-127.0.0.1")
                self.reply("250 8BITMIME")
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                self._receive()
                self.server._maybe_stall("accepted")
                self.reply("250 OK: queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")

    def _receive(self) -> None:
        lines = []
        while (line := self.rfile.readline()) != b".\r\n":
            if not line:
                raise ConnectionResetError("the sender left before the end of the data: nothing accepted")
            lines.append(line[1:] if line.startswith(b"..") else line)  # undo dot-stuffing
        message = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.server.messages.append(message)
