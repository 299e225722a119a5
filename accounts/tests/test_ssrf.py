"""SSRF battery: outside demo mode no user-supplied URL reaches a private, local or non-HTTPS target.

Every entry point that takes a URL is tried with every unsafe target: the OFX URL (connect form,
POST /api/v1/account, a stored URL re-checked when credentials are replaced), the claim URL
inside a SimpleFIN setup token (form, API, credentials replace) and the access URL a claim
answers with, plus a public-looking server that redirects to each target.

"Refused before any connection" is observed, never assumed: a canary socket listens on the
loopback port most targets name and records whoever connects, and a `socket.connect` audit hook
records every connection attempt the process makes (for targets a loopback canary cannot stand
in for, such as 10.0.0.1). Positive controls show both would have seen a connection.

Where a first hop must succeed (redirects, a claim that answers), a loopback HTTPS server stands in
for a public bank: its one (address, port) is put in http.TEST_PUBLIC_ENDPOINTS, and the client
trusts its self-signed certificate through SSL_CERT_FILE, as OpenSSL reads it for any process.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import re
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client
from django.urls import reverse

from accounts.credentials import BankCredentials, credentials_encrypt
from accounts.models import Connection
from accounts.providers import http
from accounts.providers.base import ProviderError
from accounts.providers.http import UnsafeURL, http_post
from accounts.providers.simplefin import simplefin_claim
from accounts.tests.factories import ConnectionFactory

# Audit hook ---------------------------------------------------------------------------------
# Hooks cannot be removed: this one records only while a test holds the `network` fixture.
_connects: list[tuple[str, int]] = []
_lookups: list[str] = []
_recording = threading.Event()


def _audit(event: str, args: tuple) -> None:
    if not _recording.is_set():
        return
    if event == "socket.connect" and isinstance(args[1], tuple):
        _connects.append((str(args[1][0]), int(args[1][1])))
    elif event == "socket.getaddrinfo":
        _lookups.append(str(args[0]))


sys.addaudithook(_audit)


class Network:
    """What the process asked of the network while the test ran: TCP connects and name lookups."""

    def __init__(self, cache_port: int | None) -> None:
        self._cache_port = cache_port

    @property
    def connects(self) -> list[tuple[str, int]]:
        """Every connection attempt but those to the cache server (Redis, when the tests use it)."""
        return [attempt for attempt in _connects if attempt[1] != self._cache_port]

    @property
    def lookups(self) -> list[str]:
        return list(_lookups)


@pytest.fixture
def network(settings) -> Iterator[Network]:
    location = str(settings.CACHES["default"].get("LOCATION", ""))
    _connects.clear()
    _lookups.clear()
    _recording.set()
    yield Network(urlsplit(location).port if location.startswith("redis") else None)
    _recording.clear()
    _connects.clear()
    _lookups.clear()


# Canary ---------------------------------------------------------------------------------------


class Canary:
    """Listens on 127.0.0.1 and [::1] on one port and records every connection, closing it at once."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self._v4 = socket.create_server(("127.0.0.1", 0))
        self.port = self._v4.getsockname()[1]
        self._listeners = [self._v4]
        with contextlib.suppress(OSError):  # no IPv6 loopback: the audit hook still sees attempts to [::1]
            self._listeners.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        for listener in self._listeners:
            listener.settimeout(0.2)
            threading.Thread(target=self._serve, args=(listener,), daemon=True).start()

    def _serve(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            self.hits.append(str(peer[0]))
            conn.close()

    def close(self) -> None:
        for listener in self._listeners:
            listener.close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.close()


# A "public" HTTPS server on loopback ------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, 127.0.0.1 and ::1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mint SSRF test bank")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class PublicServer:
    """HTTPS on 127.0.0.1, judged public through http.TEST_PUBLIC_ENDPOINTS (for its port only).

    Answers every request with a 307 to `redirect_to` when set, else 200 with `body`.
    """

    def __init__(self, cert: Path, key: Path) -> None:
        self.requests: list[str] = []
        self.redirect_to: str | None = None
        self.body = b"OK"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append(f"{self.command} {self.path}")
                if server.redirect_to is not None:
                    self.send_response(307)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str = "/ofx") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def public_server(tls_files, monkeypatch) -> Iterator[PublicServer]:
    server = PublicServer(*tls_files)
    monkeypatch.setattr(http, "TEST_PUBLIC_ENDPOINTS", frozenset({("127.0.0.1", server.port)}))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    yield server
    server.stop()


@pytest.fixture
def production(settings) -> None:
    settings.DEMO_MODE = False


# The targets ---------------------------------------------------------------------------------
# "{p}" is the canary's port: every target on this machine's loopback names it, so a connection
# there would be recorded. Each is (id, URL, the message it must be refused with).

LOCAL = "private or local network"
HTTPS = "must start with https://"
LOGIN = "carry no login"

TARGETS = [
    ("loopback", "https://127.0.0.1:{p}/ofx", LOCAL),
    ("loopback-127.1", "https://127.1:{p}/ofx", LOCAL),
    ("decimal-integer", "https://2130706433:{p}/ofx", LOCAL),
    ("hex-dotted", "https://0x7f.1:{p}/ofx", LOCAL),
    ("hex-integer", "https://0x7f000001:{p}/ofx", LOCAL),
    ("octal-dotted", "https://0177.0.0.1:{p}/ofx", LOCAL),
    ("octal-integer", "https://017700000001:{p}/ofx", LOCAL),
    ("zero-address", "https://0.0.0.0:{p}/ofx", LOCAL),
    ("localhost", "https://localhost:{p}/ofx", LOCAL),
    ("localhost-dot", "https://localhost.:{p}/ofx", LOCAL),
    ("localhost-upper", "https://LOCALHOST:{p}/ofx", LOCAL),
    ("sub.localhost", "https://bank.localhost:{p}/ofx", LOCAL),
    ("ipv6-loopback", "https://[::1]:{p}/ofx", LOCAL),
    ("ipv6-unspecified", "https://[::]:{p}/ofx", LOCAL),
    ("ipv4-mapped-loopback", "https://[::ffff:127.0.0.1]:{p}/ofx", LOCAL),
    ("ipv4-compatible-loopback", "https://[::127.0.0.1]:{p}/ofx", LOCAL),
    ("private-10", "https://10.0.0.1/ofx", LOCAL),
    ("private-172.16", "https://172.16.0.1/ofx", LOCAL),
    ("private-172.31", "https://172.31.255.254/ofx", LOCAL),
    ("private-192.168", "https://192.168.1.1/ofx", LOCAL),
    ("metadata-169.254", "https://169.254.169.254/latest/meta-data/", LOCAL),
    ("cgnat-100.64", "https://100.64.0.1/ofx", LOCAL),
    ("benchmark-198.18", "https://198.18.0.1/ofx", LOCAL),
    ("multicast-224", "https://224.0.0.1/ofx", LOCAL),
    ("broadcast", "https://255.255.255.255/ofx", LOCAL),
    ("ipv6-ula-fd", "https://[fd00::1]/ofx", LOCAL),
    ("ipv6-ula-fc", "https://[fc00::1]/ofx", LOCAL),
    ("ipv6-link-local", "https://[fe80::1]/ofx", LOCAL),
    ("ipv6-link-local-zone", "https://[fe80::1%25eth0]/ofx", LOCAL),
    ("ipv6-site-local", "https://[fec0::1]/ofx", LOCAL),
    ("ipv6-multicast", "https://[ff02::1]/ofx", LOCAL),
    ("ipv4-mapped-private", "https://[::ffff:10.0.0.1]/ofx", LOCAL),
    ("ipv4-mapped-metadata", "https://[::ffff:169.254.169.254]/ofx", LOCAL),
    ("ipv4-compatible-private", "https://[::10.0.0.1]/ofx", LOCAL),
    ("nat64-metadata", "https://[64:ff9b::a9fe:a9fe]/ofx", LOCAL),
    ("nat64-local-use", "https://[64:ff9b:1::a00:1]/ofx", LOCAL),
    ("6to4-loopback", "https://[2002:7f00:1::]/ofx", LOCAL),
    ("http-scheme", "http://127.0.0.1:{p}/ofx", HTTPS),
    ("http-public", "http://8.8.8.8:{p}/ofx", HTTPS),
    ("ftp", "ftp://127.0.0.1:{p}/ofx", HTTPS),
    ("gopher", "gopher://127.0.0.1:{p}/_GET", HTTPS),
    ("dict", "dict://127.0.0.1:{p}/info", HTTPS),
    ("file", "file:///etc/passwd", HTTPS),
    ("file-localhost", "file://localhost/etc/passwd", HTTPS),
    ("userinfo-public-at-loopback", "https://public.example@127.0.0.1:{p}/ofx", LOGIN),
    ("userinfo-with-password", "https://public.example:443@127.0.0.1:{p}/ofx", LOGIN),
    ("userinfo-empty", "https://@127.0.0.1:{p}/ofx", LOGIN),
    ("userinfo-backslash", "https://public.example\\@127.0.0.1:{p}/ofx", LOGIN),
    ("userinfo-on-public", "https://user:pw@8.8.8.8/ofx", LOGIN),
    ("fragment-trick", "https://127.0.0.1:{p}#@public.example/ofx", LOCAL),
]
TARGET_IDS = [target[0] for target in TARGETS]


def _url(template: str, canary: Canary) -> str:
    return template.replace("{p}", str(canary.port))


def _token(url: str) -> str:
    return base64.b64encode(url.encode()).decode()


def _assert_untouched(canary: Canary, network: Network, first_hop: PublicServer | None = None) -> None:
    assert canary.hits == [], f"the canary was contacted from {canary.hits}"
    allowed = {("127.0.0.1", first_hop.port)} if first_hop else set()
    assert [a for a in network.connects if a not in allowed] == [], f"connection attempts: {network.connects}"


# Positive controls: the canary and the audit hook do see a connection --------------------------


def test_control_in_demo_mode_the_canary_sees_the_connection(settings, canary, network):
    settings.DEMO_MODE = True
    with pytest.raises(ProviderError):
        http_post(f"http://127.0.0.1:{canary.port}/ofx", b"", {})
    assert canary.hits == ["127.0.0.1"]
    assert ("127.0.0.1", canary.port) in network.connects


def test_control_the_public_stand_in_is_reached_outside_demo_mode(production, public_server, network):
    assert http_post(public_server.url(), b"x", {}) == b"OK"
    assert public_server.requests == ["POST /ofx"]
    assert network.connects == [("127.0.0.1", public_server.port)]


# 1. The provider layer, each target directly ----------------------------------------------------


@pytest.mark.parametrize(("name", "template", "message"), TARGETS, ids=TARGET_IDS)
def test_http_refuses_the_target_before_connecting(production, canary, network, name, template, message):
    with pytest.raises(UnsafeURL, match=message):
        http_post(_url(template, canary), b"<OFX/>", {"Content-Type": "application/x-ofx"})
    _assert_untouched(canary, network)


# 2. The OFX URL at each entry point ----------------------------------------------------------------

# The form and the API first validate the URL's shape (Django's URLValidator), which refuses some
# targets as "Enter a valid URL." before the service sees them: refused all the same.
SHAPE = "Enter a valid URL"


def _refusal(text: str, message: str) -> bool:
    return message in text or SHAPE in text


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template", "message"), TARGETS, ids=TARGET_IDS)
def test_api_connect_refuses_the_ofx_url(production, user_client, canary, network, name, template, message):
    body = {"account_url": _url(template, canary), "account_login": "alice", "account_password": "pw"}
    response = user_client.post("/api/v1/account", body, format="json")
    assert response.status_code == 400
    assert _refusal(response.json()["account_url"][0], message), response.json()
    assert not Connection.objects.exists()
    _assert_untouched(canary, network)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template", "message"), TARGETS, ids=TARGET_IDS)
def test_connect_form_refuses_the_ofx_url(production, user, canary, network, name, template, message):
    client = Client()
    client.force_login(user)
    body = {"account_url": _url(template, canary), "account_login": "alice", "account_password": "pw"}
    response = client.post(reverse("accounts:connect"), body)
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["form"].errors["account_url"]
    assert _refusal(errors[0], message), errors
    assert not Connection.objects.exists()
    _assert_untouched(canary, network)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template", "message"), TARGETS, ids=TARGET_IDS)
def test_credentials_replace_rechecks_a_stored_ofx_url(
    production, user, user_client, canary, network, name, template, message
):
    # A URL stored earlier (in demo mode, or typed into the directory by an admin) is checked again.
    connection = ConnectionFactory.create(user=user, url=_url(template, canary))
    body = {"login": "alice", "password": "new-pw"}
    response = user_client.put(f"/api/v1/connections/{connection.pk}/credentials", body, format="json")
    assert response.status_code == 400
    assert message in response.json()["non_field_errors"][0]
    _assert_untouched(canary, network)


# 3. The claim URL inside a SimpleFIN setup token ---------------------------------------------------

# A claim URL with a login is not a setup token at all (the protocol's claim URLs carry none).
NOT_A_TOKEN = "not a SimpleFIN setup token"
TOKEN_HTTPS = "does not hold an https:// address"


def _claim_message(message: str) -> str:
    return {LOGIN: NOT_A_TOKEN, HTTPS: TOKEN_HTTPS}.get(message, message)


@pytest.mark.parametrize(("name", "template", "message"), TARGETS, ids=TARGET_IDS)
def test_simplefin_claim_refuses_the_claim_url(production, canary, network, name, template, message):
    with pytest.raises(ProviderError, match=_claim_message(message)):
        simplefin_claim(_token(_url(template, canary)))
    _assert_untouched(canary, network)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template", "message"), TARGETS, ids=TARGET_IDS)
def test_api_simplefin_connect_refuses_the_claim_url(production, user_client, canary, network, name, template, message):
    body = {"setup_token": _token(_url(template, canary))}
    response = user_client.post("/api/v1/connections/simplefin", body, format="json")
    assert response.status_code == 400
    assert _claim_message(message) in response.json()["setup_token"][0]
    assert not Connection.objects.exists()
    _assert_untouched(canary, network)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template", "message"), TARGETS, ids=TARGET_IDS)
def test_simplefin_form_refuses_the_claim_url(production, user, canary, network, name, template, message):
    client = Client()
    client.force_login(user)
    response = client.post(reverse("accounts:connect-simplefin"), {"setup_token": _token(_url(template, canary))})
    assert response.status_code == 200
    assert _claim_message(message) in response.context["form"].errors["setup_token"][0]
    assert not Connection.objects.exists()
    _assert_untouched(canary, network)


def _simplefin_connection(user) -> Connection:
    return ConnectionFactory.create(
        user=user,
        provider=Connection.Provider.SIMPLEFIN,
        url="https://bridge.example",
        encrypted_credentials=credentials_encrypt(BankCredentials(access_url="https://u:p@bridge.example/simplefin")),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template", "message"), TARGETS, ids=TARGET_IDS)
def test_simplefin_credentials_replace_refuses_the_claim_url(
    production, user, user_client, canary, network, name, template, message
):
    connection = _simplefin_connection(user)
    body = {"setup_token": _token(_url(template, canary))}
    response = user_client.put(f"/api/v1/connections/{connection.pk}/credentials", body, format="json")
    assert response.status_code == 400
    assert _claim_message(message) in response.json()["setup_token"][0]
    _assert_untouched(canary, network)


# 4. The access URL a (public) bridge answers the claim with -----------------------------------------

ACCESS_REFUSED = re.compile(r"answered the claim with a private or local network address|did not answer the claim")


def _access_url(template: str, canary: Canary) -> str:
    """The target as an access URL: with a login, as the protocol has them (unless it carries one)."""
    url = _url(template, canary)
    scheme, _, rest = url.partition("://")
    return url if "@" in rest.split("/", 1)[0] else f"{scheme}://demo:secret@{rest}"


# A login is what an access URL carries: on a public address, this one is a proper access URL.
ACCESS_TARGETS = [target for target in TARGETS if target[0] != "userinfo-on-public"]
ACCESS_IDS = [target[0] for target in ACCESS_TARGETS]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template", "message"), ACCESS_TARGETS, ids=ACCESS_IDS)
def test_api_simplefin_connect_refuses_the_access_url(
    production, user_client, public_server, canary, network, name, template, message
):
    public_server.body = _access_url(template, canary).encode()
    body = {"setup_token": _token(public_server.url("/claim/abc"))}
    response = user_client.post("/api/v1/connections/simplefin", body, format="json")
    assert response.status_code == 400
    assert ACCESS_REFUSED.search(response.json()["setup_token"][0]), response.json()
    assert public_server.requests == ["POST /claim/abc"]  # the claim itself was made
    assert not Connection.objects.exists()
    _assert_untouched(canary, network, public_server)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template", "message"), ACCESS_TARGETS, ids=ACCESS_IDS)
def test_simplefin_credentials_replace_refuses_the_access_url(
    production, user, user_client, public_server, canary, network, name, template, message
):
    connection = _simplefin_connection(user)
    public_server.body = _access_url(template, canary).encode()
    body = {"setup_token": _token(public_server.url("/claim/abc"))}
    response = user_client.put(f"/api/v1/connections/{connection.pk}/credentials", body, format="json")
    assert response.status_code == 400
    assert ACCESS_REFUSED.search(response.json()["setup_token"][0]), response.json()
    assert public_server.requests == ["POST /claim/abc"]
    _assert_untouched(canary, network, public_server)


# 5. A public server that redirects to each target -------------------------------------------------

REDIRECT_REFUSED = re.compile(
    r"redirected to another host|The address the bank's server redirected to "
    r"(points to a private or local network address|must start with https://|must name a host and carry no login)"
)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template", "message"), TARGETS, ids=TARGET_IDS)
def test_api_connect_refuses_a_redirect_to_the_target(
    production, user_client, public_server, canary, network, name, template, message
):
    public_server.redirect_to = _url(template, canary)
    body = {"account_url": public_server.url(), "account_login": "alice", "account_password": "pw"}
    response = user_client.post("/api/v1/account", body, format="json")
    assert response.status_code == 400
    assert REDIRECT_REFUSED.search(response.json()["account_url"][0]), response.json()
    assert public_server.requests == ["POST /ofx"]  # the first hop was made
    _assert_untouched(canary, network, public_server)


@pytest.mark.parametrize(("name", "template", "message"), TARGETS, ids=TARGET_IDS)
def test_simplefin_claim_refuses_a_redirect_to_the_target(
    production, public_server, canary, network, name, template, message
):
    public_server.redirect_to = _url(template, canary)
    with pytest.raises(UnsafeURL, match=REDIRECT_REFUSED):
        simplefin_claim(_token(public_server.url("/claim/abc")))
    assert public_server.requests == ["POST /claim/abc"]
    _assert_untouched(canary, network, public_server)


def test_a_redirect_on_the_same_public_host_and_port_is_still_followed(production, public_server, network):
    public_server.redirect_to = "/moved"  # every answer redirects: the hop limit ends it
    with pytest.raises(ProviderError, match="redirected too many times"):
        http_post(public_server.url(), b"", {})
    assert public_server.requests == ["POST /ofx"] + ["POST /moved"] * http.MAX_REDIRECTS


def test_a_redirect_to_another_host_is_refused_before_looking_it_up(production, public_server, network):
    """The other host's name is never resolved: a DNS query can itself carry data to its owner."""
    public_server.redirect_to = "https://attacker-controlled.invalid/ofx"
    with pytest.raises(UnsafeURL, match="another host"):
        http_post(public_server.url(), b"", {})
    assert "attacker-controlled.invalid" not in network.lookups
    assert public_server.requests == ["POST /ofx"]


# 6. DNS rebinding: the address checked is the address connected to ----------------------------------


def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(production, public_server, network):
    """A rebinding name answers a public address to the check and a private one to the connect.

    So the connect must not resolve the name again: the name is looked up exactly once, and the
    socket connects to the literal address that lookup returned and the check passed. (The seam
    judges 127.0.0.1 on the stand-in's port public, as a rebinding name's first answer would be.)
    """
    assert http_post(f"https://localhost:{public_server.port}/ofx", b"", {}) == b"OK"
    assert network.lookups.count("localhost") == 1
    assert [name for name in network.lookups if name != "localhost"] == ["127.0.0.1"]  # create_connection's
    assert network.connects == [("127.0.0.1", public_server.port)]
    assert public_server.requests == ["POST /ofx"]


def test_every_hop_of_a_redirect_is_resolved_once_and_pinned(production, public_server, network):
    public_server.redirect_to = f"https://localhost:{public_server.port}/moved"
    with pytest.raises(ProviderError, match="redirected too many times"):
        http_post(f"https://localhost:{public_server.port}/ofx", b"", {})
    hops = http.MAX_REDIRECTS + 1
    assert network.lookups.count("localhost") == hops
    assert network.connects == [("127.0.0.1", public_server.port)] * hops
