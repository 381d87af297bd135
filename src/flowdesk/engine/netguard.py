"""Where a webhook may go, decided from the URL's text alone (pure: no DNS, no network, no Django).

A rule must not turn flowdesk into a proxy into its own network: loopback, link-local (cloud
metadata at 169.254.169.254), private, shared, multicast, reserved and unspecified addresses are
refused in every notation a resolver accepts (``2130706433``, ``0x7f000001``, ``0177.1``, ``127.1``,
``[::ffff:127.0.0.1]``, ``[::1]``), and so are ``localhost`` names, unless an admin allowlists
them. The Django side runs the same address check again on what the name resolves to at connect
time (``flowdesk.outbox.webhooks``); this module is the part both layers share.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .catalog import Catalog

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: names that mean "this machine" or a cloud metadata service whatever DNS says
LOCAL_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "ip6-localhost",
        "ip6-loopback",
        "metadata",
        "metadata.google.internal",
    }
)
#: headers a rule may not set: the connection is flowdesk's (RFC 9110 7.6.1 hop-by-hop headers,
#: Host, the body's framing) and so are flowdesk's own signature headers
FORBIDDEN_HEADERS = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
        "expect",
        "idempotency-key",
    }
)
FORBIDDEN_HEADER_PREFIXES = ("proxy-", "x-flowdesk-")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPAT = ipaddress.ip_network("::/96")
_PART = re.compile(r"^(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$")


def _inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """IPv4 the way C resolvers read it: 1 to 4 parts, each decimal, 0x-hex or 0-octal, the last
    part filling the remaining bytes (``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``)."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        if not _PART.match(part):
            return None
        if part.startswith("0x"):
            values.append(int(part[2:] or "0", 16))
        elif part.startswith("0") and len(part) > 1:
            values.append(int(part, 8))
        else:
            values.append(int(part))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(number)


def ip_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for, in any notation; None for a name."""
    text = host.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        text = text.split("%", 1)[0]  # a zone id (fe80::1%eth0) does not change the address
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    return _inet_aton(text)


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    out = [v4 for v4 in (ip.ipv4_mapped, ip.sixtofour) if v4 is not None]
    if ip.teredo is not None:
        out.append(ip.teredo[1])
    if ip in _NAT64 or (ip in _V4_COMPAT and int(ip) > 1):
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return out


def address_problem(ip: IPAddress) -> str | None:
    """Why flowdesk must not connect to ``ip`` (None: a public unicast address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        for v4 in _embedded_v4(ip):
            inner = address_problem(v4)
            if inner is not None:
                return f"an IPv6 address embedding {v4}, {inner}"
    kinds = (
        ("an unspecified address", ip.is_unspecified),
        ("a loopback address", ip.is_loopback),
        ("a link-local address (cloud metadata lives there)", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("a private address", ip.is_private),
        ("a reserved address", ip.is_reserved),
        ("an address that is not globally routable", not ip.is_global),
    )
    return next((kind for kind, hit in kinds if hit), None)


def local_name(host: str) -> bool:
    name = host.strip().lower().rstrip(".")
    return name in LOCAL_NAMES or name.endswith(".localhost")


@dataclass(frozen=True)
class Allowlist:
    """Destinations an admin allows although they are private: exact host names (or literals,
    compared as addresses) and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Entries are host names, IP addresses or CIDR networks (``10.0.0.0/8``)."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            if "/" in entry:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            ip = ip_literal(entry)
            if ip is not None:
                networks.append(ipaddress.ip_network(ip))
            else:
                hosts.add(entry)
        return cls(frozenset(hosts), tuple(networks))

    def allows_ip(self, ip: IPAddress) -> bool:
        return any(ip.version == n.version and ip in n for n in self.networks)

    def allows_host(self, host: str) -> bool:
        ip = ip_literal(host)
        if ip is not None:
            return self.allows_ip(ip)
        return host.strip().lower().rstrip(".") in self.hosts


def host_problem(host: str, allow: Allowlist) -> str | None:
    """The literal check of one URL host (names are checked again once resolved)."""
    if allow.allows_host(host):
        return None
    ip = ip_literal(host)
    if ip is not None:
        why = address_problem(ip)
        return f"{host} is {why}" if why else None
    if local_name(host):
        return f"{host} names this machine or a metadata service"
    return None


def url_problems(url: str, allow: Allowlist = Allowlist()) -> list[str]:
    """Why a webhook may not call ``url``: scheme, credentials, syntax, then the destination."""
    if any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in url):
        return [f"webhook url {url!r} holds a control character or backslash"]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return [f"webhook url {url!r} is not a valid URL ({exc})"]
    if any(c.isspace() for c in parts.netloc):
        return [f"webhook url {url!r} has a space in its host"]
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"webhook url must be http(s)://host/..., got {url!r}"]
    if "@" in parts.netloc:
        return [f"webhook url {url!r} carries credentials: send them in a header instead"]
    host = parts.hostname or ""
    if not host:
        return [f"webhook url {url!r} has no host"]
    if port == 0:
        return [f"webhook url {url!r} has port 0"]
    why = host_problem(host, allow)
    if why is not None:
        return [f"webhook url {url!r} is refused: {why} (an admin may allowlist it)"]
    return []


def header_problem(name: str, value: str) -> str | None:
    lowered = name.lower()
    if not _TOKEN.match(name):
        return f"{name!r} is not a valid header name"
    if lowered in FORBIDDEN_HEADERS or lowered.startswith(FORBIDDEN_HEADER_PREFIXES):
        return f"header {name!r} is set by flowdesk itself and may not come from a rule"
    if "\r" in value or "\n" in value or "\0" in value:
        return f"header {name!r} holds a line break"
    return None


def allowed_header(name: str) -> bool:
    return header_problem(name, "") is None


@dataclass(frozen=True)
class Endpoint:
    """A registered destination: its secrets sign every call to it (kept on the Django side)."""

    name: str
    url: str
    prefix: bool = False  # True: every URL under ``url`` belongs to it; False: ``url`` only
    allow_private: bool = False

    def owns(self, url: str) -> bool:
        if not self.prefix:
            return url == self.url
        base, other = urlsplit(self.url), urlsplit(url)
        try:
            same = (base.scheme, base.hostname, base.port) == (
                other.scheme,
                other.hostname,
                other.port,
            )
        except ValueError:
            return False
        if not same or "@" in other.netloc:
            return False
        root = base.path.rstrip("/")
        return other.path == root or other.path.startswith(root + "/")


@dataclass(frozen=True)
class WebhookPolicy:
    """What the webhook action is checked against. ``check=False`` skips the destination and
    header checks (stored rule versions compile so; delivery checks again)."""

    endpoints: tuple[Endpoint, ...] = ()
    allow: Allowlist = field(default_factory=Allowlist)
    require_endpoint: bool = False
    check: bool = True

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)

    def endpoint_for(self, url: str) -> Endpoint | None:
        """The endpoint ``url`` belongs to: an exact one first, then the longest prefix."""
        owners = [e for e in self.endpoints if e.owns(url)]
        owners.sort(key=lambda e: (e.prefix, -len(e.url)))
        return owners[0] if owners else None

    def allowlist_for(self, endpoint: Endpoint | None) -> Allowlist:
        if endpoint is None or not endpoint.allow_private:
            return self.allow
        extra = Allowlist.parse([urlsplit(endpoint.url).hostname or ""])
        return Allowlist(self.allow.hosts | extra.hosts, self.allow.networks + extra.networks)


STRICT = WebhookPolicy()


@dataclass(frozen=True)
class GuardedCatalog(Catalog):
    """A catalog that also carries the webhook policy (endpoints and the private allowlist)."""

    webhooks: WebhookPolicy = STRICT


def policy_of(catalog: Catalog) -> WebhookPolicy:
    return catalog.webhooks if isinstance(catalog, GuardedCatalog) else STRICT
