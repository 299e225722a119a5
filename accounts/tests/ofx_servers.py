"""Loopback OFX servers for tests: a real HTTP server answering real OFX, whatever the login."""

from __future__ import annotations

import datetime as dt
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

ACCOUNT_ID = "000555000555"
BANK_ID = "121000248"


def statement(rows: int) -> bytes:
    """An OFX 1.02 statement with `rows` transactions spread over the last 60 days."""
    today = dt.date.today()  # noqa: DTZ011  (the bank's calendar)
    lines = []
    for n in range(rows):
        day = today - dt.timedelta(days=n % 60)
        lines.append(
            f"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>{day:%Y%m%d}120000<TRNAMT>-{n % 300 + 1}.{n % 100:02d}"
            f"<FITID>F{n:06d}<NAME>STORE {n % 151} PURCHASE</STMTTRN>"
        )
    body = (
        "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20261101080000"
        "<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0"
        f"<SEVERITY>INFO</STATUS><STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>{BANK_ID}<ACCTID>{ACCOUNT_ID}"
        f"<ACCTTYPE>CHECKING</BANKACCTFROM><BANKTRANLIST><DTSTART>{today - dt.timedelta(days=60):%Y%m%d}"
        f"<DTEND>{today:%Y%m%d}{''.join(lines)}</BANKTRANLIST><LEDGERBAL><BALAMT>100.00"
        f"<DTASOF>{today:%Y%m%d}</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"
    )
    header = (
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n"
        "COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
    )
    return (header + body).encode()


def ofx_server(payload: bytes, delay: float = 0.0) -> ThreadingHTTPServer:
    """A loopback OFX server that answers every request with `payload`, after `delay` seconds."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ofx")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    return server


def server_url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/ofx"
