"""HTTP to institutions at URLs users typed in (or that a SimpleFIN bridge handed out).

Outside demo mode only HTTPS to public addresses is allowed: a user-supplied URL must
not reach loopback, private or link-local services (SSRF). The address is checked after
DNS resolution and the connection is made to that same checked address, so a name that
re-resolves elsewhere between check and connect cannot slip through. Redirects are
followed only on the same host (the request carries the bank password), and the whole
exchange has one deadline, so a server dripping bytes cannot hold a worker.

A URL carrying a login (`https://user:pass@host/`) is refused: a login goes in a header,
which `url_basic_auth` builds from such a URL (SimpleFIN access URLs are of that form).
Messages name the host at most, never a path or a login: both can be secrets.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from urllib.parse import SplitResult, unquote, urljoin, urlsplit, urlunsplit

from django.conf import settings

from .base import ProviderAuthError, ProviderDataError, ProviderError, ProviderUnavailable

MAX_REDIRECTS = 3
READ_CHUNK = 64 * 1024
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
# Python 3.11 calls these global, yet none is a public unicast address: IPv4-compatible
# (::a.b.c.d, deprecated), local-use NAT64 (RFC 8215, translates to private networks)
# and site-local (deprecated, routed like a private network).
NOT_PUBLIC_IPV6 = tuple(ipaddress.ip_network(net) for net in ("::/96", "64:ff9b:1::/48", "fec0::/10"))
REDIRECTED = "The address the bank's server redirected to"

# Test seam, for tests only: (address, port) pairs judged public, so that a loopback server can
# stand in for a public bank (to prove what happens after the first hop of a redirect, say).
# Never set outside tests; nothing in settings or the environment reaches it.
TEST_PUBLIC_ENDPOINTS: frozenset[tuple[str, int]] = frozenset()


class UnsafeURL(ProviderError):
    """The URL points somewhere the service must not connect to."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in NOT_PUBLIC_IPV6):
            return False
        # IPv6 forms that carry an IPv4 address: judge the IPv4 address too.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not _is_public(str(embedded)):
            return False
    return True


def _split(url: str) -> SplitResult | None:
    """The URL's parts, or None: urlsplit's ValueError quotes the URL, login included, so it must not travel."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _url_check(url: str, subject: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL the service may resolve; checked without DNS or a connection.

    `subject` starts each message: the URL the user typed, or one a server redirected to.
    """
    parts = _split(url)
    if parts is None:
        raise UnsafeURL(f"{subject} is not a valid web address.")
    scheme = parts.scheme.lower()
    allowed_schemes = ("https", "http") if settings.DEMO_MODE else ("https",)
    if scheme not in allowed_schemes:
        raise UnsafeURL(f"{subject} must start with https://.")
    # "bank.example." is the same name as "bank.example": one spelling, for DNS, TLS and comparing hosts.
    host = (parts.hostname or "").rstrip(".")
    if not host or parts.username is not None or parts.password is not None:
        raise UnsafeURL(f"{subject} must name a host and carry no login.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL(f"{subject} has an invalid port.") from None
    # Refused by name, since DNS often has no answer for them, which would read "could not find"
    # rather than why: *.localhost is loopback by definition (RFC 6761; `localhost` itself always
    # resolves), and a zone id ("[fe80::1%25eth0]", RFC 6874) only ever scopes a local address.
    if not settings.DEMO_MODE and (host.endswith(".localhost") or "%" in host):
        raise UnsafeURL(f"{subject} points to a private or local network address.")
    return scheme, host, port


def _address_resolve(host: str, port: int, subject: str) -> str:
    """The address to connect to: every address the name resolves to must be public (outside demo mode)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ProviderUnavailable(f"Could not find the bank's server {host!r}.") from None
    addresses = [str(info[4][0]) for info in infos]
    if not settings.DEMO_MODE and not all(
        _is_public(address) or (address, port) in TEST_PUBLIC_ENDPOINTS for address in addresses
    ):
        raise UnsafeURL(f"{subject} points to a private or local network address.")
    return addresses[0]


def _path(url: str) -> str:
    parts = urlsplit(url)  # already split once by _url_check
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def url_resolve(url: str, subject: str = "The bank's URL") -> tuple[str, int, str, str]:
    """(host, port, checked IP address, path) for a URL the service may connect to."""
    _, host, port = _url_check(url, subject)
    return host, port, _address_resolve(host, port, subject), _path(url)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _read_body(response: http.client.HTTPResponse, sock: socket.socket, deadline: float) -> bytes:
    limit = settings.PROVIDER_MAX_RESPONSE_BYTES
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        chunk = response.read1(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise ProviderDataError(f"The bank's response is larger than {limit // (1024 * 1024)} MB.")
        chunks.append(chunk)


def url_basic_auth(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its `user:password@`, and the HTTP Basic Authorization header that carries them.

    A URL without a login comes back unchanged, with no header.
    """
    parts = _split(url)
    if parts is None:
        raise UnsafeURL("The URL is not a valid web address.")
    if parts.username is None:
        return url, {}
    host_and_port = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host_and_port, parts.path, parts.query, ""))
    login = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return bare, {"Authorization": "Basic " + base64.b64encode(login.encode()).decode("ascii")}


def http_post(
    url: str, body: bytes, headers: Mapping[str, str], *, status_errors: Mapping[int, ProviderError] | None = None
) -> bytes:
    """POST and return the response body, or raise a ProviderError the user can read.

    `status_errors` replaces the generic error for some HTTP statuses with the caller's own.
    """
    return _http_request("POST", url, body, headers, status_errors or {})


def http_get(
    url: str, headers: Mapping[str, str], *, status_errors: Mapping[int, ProviderError] | None = None
) -> bytes:
    """GET and return the response body, or raise a ProviderError the user can read (see http_post)."""
    return _http_request("GET", url, None, headers, status_errors or {})


def _http_request(
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    status_errors: Mapping[int, ProviderError],
) -> bytes:
    timeout = settings.PROVIDER_TIMEOUT
    deadline = time.monotonic() + timeout
    first_host: str | None = None
    for _ in range(MAX_REDIRECTS + 1):
        # A redirect's target is checked in full, and its host compared, before any DNS lookup of it.
        subject = REDIRECTED if first_host else "The bank's URL"
        scheme, host, port = _url_check(url, subject)
        first_host = first_host or host
        if host != first_host:
            raise UnsafeURL("The bank's server redirected to another host; the login is not sent there.")
        # The connection goes to this checked address, never to the name again (DNS rebinding).
        address = _address_resolve(host, port, subject)
        connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = connection_class(host, port, address, max(0.1, deadline - time.monotonic()))
        try:
            connection.request(method, _path(url), body=body, headers=dict(headers))
            sock = connection.sock  # the response keeps reading from it after an HTTP/1.0 close
            response = connection.getresponse()
            location = response.getheader("Location")
            if response.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            if response.status in status_errors:
                raise status_errors[response.status]
            if response.status in (401, 403):
                raise ProviderAuthError("The bank refused the login.")
            if response.status >= 500:
                raise ProviderUnavailable(f"The bank's server failed (HTTP {response.status}). Try again later.")
            if response.status >= 400:
                raise ProviderDataError(f"The bank's server refused the request (HTTP {response.status}).")
            return _read_body(response, sock, deadline)
        except TimeoutError:
            raise ProviderUnavailable(f"The bank's server did not answer within {timeout:g} seconds.") from None
        except ssl.SSLError as exc:
            raise ProviderUnavailable(f"Could not open a secure connection to {host}: {exc.reason}.") from None
        except (OSError, http.client.HTTPException) as exc:
            # (http.client.InvalidURL quotes the path: name the exception type, never its text.)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ProviderUnavailable(f"Could not connect to {host}: {reason}.") from None
        finally:
            connection.close()
    raise ProviderDataError("The bank's server redirected too many times.")
