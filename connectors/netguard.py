"""Where a fetch may connect, and how long it may take, enforced in the socket layer.

httpx connects through a network backend; ours does two things there, because
only there is the address actually connected to known:

- The *guarded* backend resolves the host itself (through an injectable
  resolver), refuses private, loopback, link-local (cloud metadata), shared,
  multicast and reserved addresses — IPv4, IPv6 and IPv4 embedded in IPv6 —
  and then connects to the very address it checked, so DNS rebinding between
  check and connect is impossible.
- Every stream bounds each socket read and write by the fetch's *total*
  deadline, so a server dripping a byte at a time (even inside the headers)
  cannot hold a fetch longer than the deadline.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator

import httpcore

from connectors.base import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses to try, as strings ("93.184.216.34", "2606:2800::1").
Resolver = Callable[[str, int], list[str]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Special-purpose blocks some Python versions call global (3.11 does for 192.0.0.192, which
# Oracle Cloud's metadata service used); nothing a feed lives on.
_SPECIAL_PURPOSE = (ipaddress.IPv4Network("192.0.0.0/24"),)
_ODD_IPV4 = re.compile(r"^[0-9a-fA-FxX.]+$")
_deadline: ContextVar[float | None] = ContextVar("fetch_deadline", default=None)


class AddressRefused(FetchError):
    """The URL resolves to an address a fetch must not reach."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def literal_address(host: str) -> IPAddress | None:
    """The address a host string denotes by itself, including odd IPv4 notations.

    '2130706433', '0x7f.1' and '0177.0.0.1' all mean 127.0.0.1 to the C
    resolver, so they must mean it to the guard too.
    """
    host = host.strip().strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _ODD_IPV4.match(host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why `address` must not be fetched from, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = refusal_reason(embedded)
            if reason:
                return f"{reason} (embedded in {address})"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if any(address in network for network in _SPECIAL_PURPOSE if address.version == network.version):
        return "a special-purpose address (metadata services live there too)"
    if address.is_reserved or not address.is_global:
        return "a reserved, non-public address"
    return None


def check_host(host: str, port: int, resolver: Resolver) -> list[str]:
    """The addresses of `host` if every one is public; AddressRefused otherwise."""
    literal = literal_address(host)
    addresses = [str(literal)] if literal is not None else resolver(host, port)
    if not addresses:
        raise FetchError(f"{host} resolves to no address")
    for text in addresses:
        address = literal_address(text)
        if address is None:
            raise AddressRefused(f"{host} resolves to {text!r}, which is not an IP address")
        reason = refusal_reason(address)
        if reason:
            raise AddressRefused(f"refusing to fetch from {host}: it resolves to {address}, {reason}; "
                                 "a source in config may opt in with allow_private: true")
    return addresses


# --- the total deadline --------------------------------------------------------------------

@contextmanager
def deadline_after(seconds: float) -> Iterator[float]:
    """Bound every socket operation in this block (this thread) by one shared deadline."""
    until = time.monotonic() + seconds
    token = _deadline.set(until)
    try:
        yield until
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None) -> float | None:
    until = _deadline.get()
    if until is None:
        return timeout
    remaining = until - time.monotonic()
    if remaining <= 0:
        raise httpcore.ReadTimeout("the fetch's total deadline has passed")
    return remaining if timeout is None else min(timeout, remaining)


class DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses the guard allows (when `guard`), always under the deadline."""

    def __init__(self, *, guard: bool, resolver: Resolver = system_resolver) -> None:
        self.guard = guard
        self.resolver = resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        if not self.guard:
            return DeadlineStream(self._inner.connect_tcp(host, port, _bounded(timeout), local_address,
                                                          socket_options))
        failure: Exception | None = None
        for address in check_host(host, port, self.resolver):
            try:
                stream = self._inner.connect_tcp(address, port, _bounded(timeout), local_address,
                                                 socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return DeadlineStream(stream)
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise AddressRefused("unix sockets are never fetched from")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
