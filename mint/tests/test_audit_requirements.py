"""scripts/audit_requirements, run for real against a loopback server that speaks the OSV API.

The real services need the network (and are not reachable from every machine): these tests
prove the script's own part offline: that a known-vulnerable pin fails it, that a waiver with a
reason clears exactly that advisory, that a waiver without one is refused, and that a service
which cannot answer fails the audit instead of passing it.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit_requirements"
ADVISORY = "TEST-2026-0001"


def _django_pin() -> str:
    match = re.search(r"^Django==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE | re.IGNORECASE)
    assert match, "requirements.txt pins Django"
    return match.group(1)


class OsvServer(ThreadingHTTPServer):
    """POST /v1/query: one advisory against the pinned Django, nothing for anything else (or HTTP 500)."""

    def __init__(self) -> None:
        self.failing = False
        self.queries: list[str] = []
        pin = _django_pin()
        osv = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                osv.queries.append(query["package"]["name"])
                if osv.failing:
                    self.send_error(500)
                    return
                vulns = []
                if query["package"]["name"] == "django" and query["version"] == pin:
                    affected = {
                        "package": {"name": "django", "ecosystem": "PyPI"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}],
                    }
                    vulns.append({"id": ADVISORY, "summary": "A test advisory.", "affected": [affected]})
                body = json.dumps({"vulns": vulns} if vulns else {}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def osv() -> Iterator[OsvServer]:
    server = OsvServer()
    yield server
    server.shutdown()
    server.server_close()


def _audit(osv: OsvServer, waivers: Path) -> subprocess.CompletedProcess[str]:
    url = f"http://127.0.0.1:{osv.server_address[1]}/v1/query"
    return subprocess.run(  # noqa: S603  (our own script)
        [str(SCRIPT), "-s", "osv", "--osv-url", url, "--cache-dir", str(waivers.parent / "cache")],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "AUDIT_WAIVERS": str(waivers), "HOME": str(waivers.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_known_vulnerable_pin_fails_the_audit_and_names_the_advisory(osv, tmp_path):
    result = _audit(osv, tmp_path / "none.txt")
    assert result.returncode == 1, result.stderr
    assert ADVISORY in result.stdout
    assert {"django", "pytest", "pip-audit"} <= set(osv.queries)  # both files' pins were asked about


def test_a_waiver_with_a_reason_clears_that_advisory(osv, tmp_path):
    waivers = tmp_path / "waivers.txt"
    waivers.write_text(f"# comment\n\n{ADVISORY} no fixed release yet; the affected path is unused here\n")
    result = _audit(osv, waivers)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_waiver_without_a_reason_is_refused(osv, tmp_path):
    waivers = tmp_path / "waivers.txt"
    waivers.write_text(f"{ADVISORY}\n")
    result = _audit(osv, waivers)
    assert result.returncode == 2
    assert "gives no reason" in result.stderr
    assert osv.queries == []


def test_a_service_that_cannot_answer_fails_the_audit(osv, tmp_path):
    osv.failing = True
    result = _audit(osv, tmp_path / "none.txt")
    assert result.returncode != 0
    assert ADVISORY not in result.stdout
