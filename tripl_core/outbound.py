"""Outbound calls only where the operator allows: every address tripl connects to is checked before the call.

Editors configure URLs (webhook targets, Slack webhooks, Jira sites) and owners configure hosts (warehouses, the AI
endpoint, channel API bases); tripl then connects there from inside the operator's network and stores what the
far end answers. Without a check that reaches the cloud metadata service (credentials) or tripl's own API on
loopback. The policy, applied to every resolved address:

1. always refused: link-local and metadata addresses (169.254.0.0/16, fe80::/10, 100.100.100.200,
   fd00:ec2::254), unspecified (0.0.0.0/8, ::) and multicast/broadcast — no setting re-opens them;
2. refused: anything in `TRIPL_OUTBOUND_DENY` (comma-separated CIDRs);
3. allowed: anything in `TRIPL_OUTBOUND_ALLOW` (this is how loopback is opened, e.g. `127.0.0.1/32`, or only
   one port of it: `127.0.0.1:8787`);
4. refused: loopback (127.0.0.0/8, ::1) — tripl's own API and database listen there;
5. allowed: everything else, private ranges included (warehouses usually live there).

The check runs before every call, not only when a URL is saved (DNS answers change): `GuardedTransport` resolves
the host, checks every address and connects to the checked address itself (TLS still verifies the name), so a
DNS answer that changes between the check and the connect (rebinding) cannot slip through. Libraries that
bring their own network stack (slack-sdk, smtplib, clickhouse-connect, psycopg, google-cloud-bigquery) are
checked with `check_host` just before they connect and then connect to the checked address too
(`tripl_core.pinning`, libpq `hostaddr`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from tripl_core.errors import Invalid
from tripl_core.settings import Settings, get_settings, parse_address_rules

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALWAYS_REFUSED: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why) for net, why in (
        ("169.254.0.0/16", "a link-local address (cloud metadata service)"),
        ("fe80::/10", "a link-local address"),
        ("100.100.100.200/32", "a cloud metadata address"),
        ("fd00:ec2::254/128", "a cloud metadata address"),
        ("0.0.0.0/8", "an unspecified address (it reaches this host)"),
        ("::/128", "an unspecified address (it reaches this host)"),
        ("224.0.0.0/4", "a multicast address"),
        ("ff00::/8", "a multicast address"),
        ("255.255.255.255/32", "a broadcast address"),
    ))
DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class OutboundRefused(httpx.TransportError):
    """The outbound policy refuses this destination. An httpx transport error (so httpx callers handle it like a
    failed connection) that is not a network error: retrying cannot help."""


Rule = tuple[Network, int | None]  # a range, and the one port it is limited to (None: every port)


def parse_cidrs(value: str | Iterable[str] | None) -> tuple[Rule, ...]:
    """`"10.0.0.0/8, 127.0.0.1:8787"` → rules; a bare address is its /32 (/128); `addr:port` (`[v6]:port`)
    limits the rule to that port. Raises ValueError naming the entry that is neither."""
    text = value if isinstance(value, str) else ",".join(value or [])
    return tuple(parse_address_rules(text))


def _matches(ip: IPAddress, port: int | None, rules: tuple[Rule, ...], unknown_port: bool) -> bool:
    """`unknown_port`: whether a port-limited rule matches when the port is not known yet (a host saved before
    its port); every call knows its port."""
    return any(ip.version == net.version and ip in net and (only is None or only == port
                                                            or (port is None and unknown_port))
               for net, only in rules)


@dataclass(frozen=True)
class Policy:
    allow: tuple[Rule, ...] = ()
    deny: tuple[Rule, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings | Any | None = None) -> Policy:
        s = settings or get_settings()
        return cls(parse_cidrs(getattr(s, "outbound_allow", "")), parse_cidrs(getattr(s, "outbound_deny", "")))

    def refusal(self, address: IPAddress | str, port: int | None = None) -> str | None:
        """Why `address` (on `port`, when known) may not be connected to, or None when it may."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
        for net, why in ALWAYS_REFUSED:
            if ip.version == net.version and ip in net:
                return f"{ip} is {why}; tripl never connects there"
        if _matches(ip, port, self.deny, unknown_port=False):
            return f"{ip} is in TRIPL_OUTBOUND_DENY"
        if _matches(ip, port, self.allow, unknown_port=True):
            return None
        if any(ip.version == n.version and ip in n for n in LOOPBACK):
            where = f"{ip}:{port}" if port and ip.version == 4 else (f"[{ip}]:{port}" if port else str(ip))
            return (f"{ip} is a loopback address (this host); an operator can allow it with TRIPL_OUTBOUND_ALLOW "
                    f"(e.g. {where})")
        return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int | None = None) -> list[IPAddress]:
    """The addresses `host` resolves to now (an IP literal is itself). Raises OSError when it does not resolve."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    seen: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def check_host(host: str, port: int | None = None, settings: Settings | Any | None = None,
               policy: Policy | None = None) -> list[IPAddress]:
    """Resolve `host` and check every address; returns them (first = the one to connect to). Raises
    OutboundRefused when any is refused (a name that resolves to a refused address is refused whole) and
    OSError when the name does not resolve."""
    policy = policy or Policy.from_settings(settings)
    addresses = resolve(host, port)
    for ip in addresses:
        reason = policy.refusal(ip, port)
        if reason:
            named = "" if _literal(host) is not None else f"{host} resolves to "
            raise OutboundRefused(f"outbound call refused: {named}{reason}")
    return addresses


def check_url(url: str, settings: Settings | Any | None = None) -> list[IPAddress]:
    """`check_host` for a URL's host (for clients that cannot use `GuardedTransport`)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise OutboundRefused("outbound call refused: the URL has no host")
    return check_host(parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme), settings)


def validate_url(field: str | list[str], url: str | None, settings: Settings | Any | None = None) -> None:
    """When a URL is saved: a 422 naming `field` if its host is refused now. A name that does not resolve here is
    accepted (it may resolve where and when the call is made); every call is checked again anyway."""
    if not url:
        return
    try:
        check_url(url, settings)
    except OutboundRefused as exc:
        raise Invalid(field, str(exc)) from None
    except (OSError, ValueError, UnicodeError):
        return


def validate_host(field: str | list[str], host: str | None, settings: Settings | Any | None = None,
                  port: int | None = None) -> None:
    """`validate_url` for a bare host name (warehouses, SMTP)."""
    if not host:
        return
    try:
        check_host(host, port, settings)
    except OutboundRefused as exc:
        raise Invalid(field, str(exc)) from None
    except (OSError, ValueError, UnicodeError):
        return


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport that checks the policy before every request and connects to the address it checked."""

    def __init__(self, settings: Settings | Any | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = Policy.from_settings(settings)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        try:
            addresses = check_host(host, request.url.port or DEFAULT_PORTS.get(request.url.scheme),
                                   policy=self.policy)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from None
        except OutboundRefused as exc:
            raise OutboundRefused(str(exc), request=request) from None
        if _literal(host) is None:
            # Pin the checked address: the name goes in Host (already set) and in TLS SNI and verification.
            request.extensions = {**request.extensions, "sni_hostname": host}
            request.url = request.url.copy_with(host=str(addresses[0]))
        return super().handle_request(request)


def client(settings: Settings | Any | None = None, verify: Any = True, **kwargs: Any) -> httpx.Client:
    """An httpx client whose every request goes through `GuardedTransport` (no environment proxies: the policy
    is about where tripl connects). TLS settings (`verify`) belong to the transport: httpx ignores a client's
    own once a transport is given. Use one client per destination: connections are pooled by the pinned
    address, so two names on one address would share a connection made for the first name."""
    return httpx.Client(transport=GuardedTransport(settings, verify=verify), **kwargs)
