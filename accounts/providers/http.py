"""HTTP to institutions at URLs users typed in.

Outside demo mode only HTTPS to public addresses is allowed: a user-supplied URL must
not reach loopback, private or link-local services (SSRF). The address is checked after
DNS resolution and the connection is made to that same checked address, so a name that
re-resolves elsewhere between check and connect cannot slip through. Redirects are
followed only on the same host (the request carries the bank password), and the whole
exchange has one deadline, so a server dripping bytes cannot hold a worker.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from .base import ProviderAuthError, ProviderDataError, ProviderError, ProviderUnavailable

MAX_REDIRECTS = 3
READ_CHUNK = 64 * 1024
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


class UnsafeURL(ProviderError):
    """The URL points somewhere the service must not connect to."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address: judge the IPv4 address too.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not embedded.is_global:
            return False
    return True


def url_resolve(url: str) -> tuple[str, int, str, str]:
    """(host, port, checked IP address, path) for a URL the service may connect to."""
    parts = urlsplit(url)
    allowed_schemes = ("https", "http") if settings.DEMO_MODE else ("https",)
    if parts.scheme not in allowed_schemes:
        raise UnsafeURL("The bank's URL must start with https://.")
    if not parts.hostname or parts.username or parts.password:
        raise UnsafeURL("The bank's URL must name a host and carry no login.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("The bank's URL has an invalid port.") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ProviderUnavailable(f"Could not find the bank's server {parts.hostname!r}.") from None
    addresses = [str(info[4][0]) for info in infos]
    if not settings.DEMO_MODE and not all(_is_public(address) for address in addresses):
        raise UnsafeURL("The bank's URL points to a private or local network address.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.hostname, port, addresses[0], path


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


def http_post(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    """POST and return the response body, or raise a ProviderError the user can read."""
    timeout = settings.PROVIDER_TIMEOUT
    deadline = time.monotonic() + timeout
    first_host = urlsplit(url).hostname
    for _ in range(MAX_REDIRECTS + 1):
        host, port, address, path = url_resolve(url)
        if host != first_host:
            raise UnsafeURL("The bank's server redirected to another host; the login is not sent there.")
        connection_class = _PinnedHTTPSConnection if url.lower().startswith("https") else _PinnedHTTPConnection
        connection = connection_class(host, port, address, max(0.1, deadline - time.monotonic()))
        try:
            connection.request("POST", path, body=body, headers=headers)
            sock = connection.sock  # the response keeps reading from it after an HTTP/1.0 close
            response = connection.getresponse()
            location = response.getheader("Location")
            if response.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
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
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ProviderUnavailable(f"Could not connect to {host}: {reason}.") from None
        finally:
            connection.close()
    raise ProviderDataError("The bank's server redirected too many times.")
