"""The SSRF guard: a webhook may only reach public http(s) addresses.

The URL's host is resolved and every address it resolves to is checked (loopback, private, link-local —
cloud metadata 169.254.169.254 among them —, multicast, reserved, and their IPv6 and IPv4-mapped forms
are refused). The check runs when an endpoint is added and again before every delivery, and the
delivery connects to the very address that passed: a name that later resolves elsewhere (DNS
rebinding) gets nothing. ``ONBOARDING_WEBHOOK_ALLOW_PRIVATE=true`` lifts the address rule (not the
scheme rule) for installs whose receivers live on the same network.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why, for the person who typed it."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (a name or an address), for the Host header, SNI and certificates
    port: int
    address: str  # the vetted address to connect to
    path: str  # path and query


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to play DNS rebinding)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public(address: str) -> bool:
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def parse(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of an http(s) URL; :class:`UnsafeURL` otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeURL("Enter a valid URL.") from None
    if parts.scheme not in SCHEMES:
        raise UnsafeURL("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeURL("Enter a full URL, such as https://example.com/hooks.")
    if parts.username or parts.password:
        raise UnsafeURL("Leave credentials out of the URL.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def check(url: str, *, allow_private: bool) -> Target:
    """Resolve ``url``'s host and vet its addresses; the target to connect to, or :class:`UnsafeURL`."""
    scheme, host, port, path = parse(url)
    try:
        addresses = resolve(host, port)
    except (OSError, ValueError):  # ValueError: a NUL or a label the IDNA codec refuses
        raise UnsafeURL(f"The host {host!r} could not be found.") from None
    if not addresses:
        raise UnsafeURL(f"The host {host!r} could not be found.")
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise UnsafeURL(
                f"{host} is or resolves to a loopback, private, link-local or metadata address "
                f"({refused[0]}); webhooks may only call public addresses."
            )
    return Target(scheme, host, port, addresses[0], path)
