"""Which webhook URLs may be registered, and which addresses a delivery may reach.

A webhook URL is chosen by a client and fetched by our worker from inside our network:
without checks it would let anyone make us POST to the cloud metadata service
(169.254.169.254, fd00:ec2::254), to an admin port on localhost or to a private database
(server-side request forgery). So only public addresses are reachable, over https, unless
an operator allow-lists a host name or network (typically localhost in development).

This module is pure: `checked_url` validates a URL's text at registration time (and again
before each delivery) but never resolves a name; the worker's sender resolves it at connect
time and checks every address with `address_allowed`.
"""

import ipaddress
import re
import string
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048

_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
"""Carrier-grade NAT (RFC 6598): not private by Python's reckoning, not public either."""
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
"""The well-known NAT64 prefix (RFC 6052): a gateway forwards to the embedded IPv4 address,
which may be a private one, so that address is what counts."""
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")
"""Deprecated IPv6 site-local addresses, which Python still counts as global."""

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
"""One DNS label (lower case). Underscores are tolerated: internal names (Compose services)
use them."""
_NUMERIC_LABEL = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)")
"""A label that makes resolvers (inet_aton) and browsers read a name as an IPv4 address."""
_URL_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)


class WebhookUrlRefused(ValueError):  # noqa: N818 - a verdict, not a fault
    """A webhook URL (or the address it leads to) that must not be called. Its text is a
    short English reason, fit to show to the client that registered the URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _unwrapped(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for, if it embeds one we would really reach.

    `::ffff:127.0.0.1` (IPv4-mapped) is 127.0.0.1 to the kernel; `64:ff9b::a00:1` (NAT64)
    is 10.0.0.1 behind the gateway; `2002:a00:1::` (6to4) and Teredo addresses carry one
    that a relay would reach."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


def is_public(ip: IPAddress) -> bool:
    """True if `ip` is a globally routable unicast address (after unwrapping an embedded
    IPv4 address): not private, loopback, link-local, shared (CGNAT), unspecified,
    reserved, multicast nor IPv6 unique-local or site-local."""
    ip = _unwrapped(ip)
    if not ip.is_global or ip.is_multicast or ip.is_reserved:
        return False
    # Python counts the deprecated fec0::/10 as global; it is site-internal.
    return not (isinstance(ip, ipaddress.IPv6Address) and ip in _SITE_LOCAL)


def address_kind(ip: IPAddress) -> str:
    """What kind of address `ip` is, in a word or two: "public", "loopback", "private"...
    Used in refusal reasons."""
    ip = _unwrapped(ip)
    if is_public(ip):
        return "public"
    kinds: list[tuple[bool, str]] = [
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_ADDRESS_SPACE, "shared (CGNAT)"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (isinstance(ip, ipaddress.IPv6Address) and ip in _SITE_LOCAL, "site-local"),
    ]
    return next((kind for matches, kind in kinds if matches), "not public")


def _parse_ip(text: str) -> IPAddress | None:
    """`text` as an IP address literal (brackets around IPv6 tolerated), or None."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _parse_network(text: str) -> IPNetwork | None:
    """`text` as an address or CIDR network, or None. strict=False: 192.168.1.10/24 means
    the network 192.168.1.0/24. A zone (fe80::1%eth0) is no network: membership tests
    would ignore it."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _normal_host(host: str) -> str:
    """A host name as compared: lower case, without the root's trailing dot."""
    host = host.lower()
    return host[:-1] if host.endswith(".") else host


def _host_name_problem(name: str) -> str | None:
    """Why `name` (lower case, not an IP literal) is not a usable host name, or None."""
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"the host {name!r} is not a valid host name"
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # 127.1, 0x7f.1, 2130706433: resolvers turn these into IPv4 addresses we would
        # rather check as such; no real top-level domain is numeric.
        return f"the host {name!r} looks like an IP address in a non-standard form"
    return None


@dataclass(frozen=True)
class AllowList:
    """Host names and networks that webhooks may reach although they are not public, and
    over plain http. Empty by default; an operator's choice (e.g. localhost in development,
    an internal receiver in a private network)."""

    hosts: frozenset[str] = frozenset()
    """Lower-case host names, without a trailing dot."""
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "AllowList":
        """An allow-list from entries such as `localhost`, `receiver.internal`, `::1` or
        `127.0.0.0/8`. Raises ValueError on an entry that is neither a host name nor an
        address or network."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip()
            if text.startswith("[") and "]" in text:
                text = text[1:].replace("]", "", 1)  # [::1] or [::1]/128
            network = _parse_network(text)
            if network is not None:
                networks.append(network)
                continue
            name = _normal_host(text)
            problem = _host_name_problem(name) if name else "empty entry"
            if problem is not None:
                raise ValueError(f"invalid webhook allow-list entry {entry!r}: {problem}")
            hosts.add(name)
        return cls(hosts=frozenset(hosts), networks=tuple(networks))

    def allows_address(self, ip: IPAddress) -> bool:
        """True if `ip` (or the IPv4 address it embeds) lies in one of the networks."""
        candidates = {ip, _unwrapped(ip)}
        return any(candidate in network for candidate in candidates for network in self.networks)

    def allows_host(self, host: str) -> bool:
        """True if `host` (a URL's host) is an allow-listed name, or an IP literal inside
        one of the networks."""
        ip = _parse_ip(host)
        if ip is not None:
            return self.allows_address(ip)
        return _normal_host(host) in self.hosts


def address_allowed(ip: IPAddress, host: str, allow: AllowList) -> bool:
    """True if a delivery to `host` may connect to `ip`, one of the addresses it resolved
    to: the address is public, or the host name or the address is allow-listed."""
    if is_public(ip):
        return True
    # An allow-listed name is trusted whatever it resolves to: the operator vouched for it.
    return _normal_host(host) in allow.hosts or allow.allows_address(ip)


def _checked_text(url: str) -> None:
    """Refuse a URL whose text alone is unacceptable: empty, too long, odd characters."""
    if not url:
        raise WebhookUrlRefused("the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if not set(url) <= _URL_CHARACTERS:
        # Spaces and control characters are stripped or split on differently by different
        # parsers; non-ASCII names must be sent as punycode (xn--...) anyway.
        raise WebhookUrlRefused(
            "the URL must be ASCII without spaces or control characters "
            "(percent-encode them; write international names as xn--...)"
        )
    if "#" in url:
        raise WebhookUrlRefused("a fragment (#...) in the URL is not accepted")


def _scheme_and_host(url: str) -> tuple[str, str]:
    """The lower-case scheme and host of `url` (brackets of an IPv6 literal removed), after
    refusing other schemes, user:password@, a missing host and a bad port."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:  # e.g. a bracketed host that is no IPv6 address
        raise WebhookUrlRefused(f"the URL is not valid ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"https", "http"}:
        raise WebhookUrlRefused("only https URLs are accepted")
    if "@" in parts.netloc:
        # Credentials in a URL end up in logs; and user@host tricks readers into
        # misjudging the host.
        raise WebhookUrlRefused("user:password@ in the URL is not accepted")
    host = parts.hostname or ""
    if not host:
        raise WebhookUrlRefused("the URL has no host")
    try:
        port = parts.port  # raises on a non-numeric port or one above 65535
    except ValueError:
        port = 0
    if port == 0:
        raise WebhookUrlRefused("the port must be a number between 1 and 65535")
    return scheme, host


def checked_url(url: str, allow: AllowList) -> str:
    """`url` with surrounding whitespace removed, if it may be registered as a webhook URL.

    Raises WebhookUrlRefused (with the reason) unless the URL is absolute https (or http to
    an allow-listed host), ASCII, at most MAX_URL_LENGTH characters, with a host, a port in
    1-65535 if any, no user:password@ and no #fragment, and its host, if an IP literal, is
    public or allow-listed. Host names are not resolved here: the sender checks the
    addresses they resolve to when it connects (they may change after registration)."""
    url = url.strip()
    _checked_text(url)
    scheme, host = _scheme_and_host(url)
    if "%" in host:
        raise WebhookUrlRefused("IPv6 zone identifiers are not accepted")
    ip = _parse_ip(host)
    if ip is None:
        problem = _host_name_problem(_normal_host(host))
        if problem is not None:
            raise WebhookUrlRefused(problem)
    if scheme != "https" and not allow.allows_host(host):
        raise WebhookUrlRefused("only https URLs are accepted")
    if ip is not None and not address_allowed(ip, host, allow):
        # The host as written: str() would spell ::ffff:127.0.0.1 as ::ffff:7f00:1.
        raise WebhookUrlRefused(f"the address {host} is {address_kind(ip)}")
    return url
