"""The client's address behind trusted proxies: ``X-Forwarded-For`` or RFC 7239 ``Forwarded``.

Each proxy appends the address of whoever connected to it, so the header is walked from the right
and the first hop that is not a trusted proxy is the client (uvicorn's ``_TrustedHosts``). A header
sent by an untrusted peer is ignored: anyone can write one (fastapi-limiter keys on its *first* entry,
so every client picks a fresh identity). A malformed, ``unknown`` or obfuscated hop stops the walk at
the nearest trusted hop, the last address anyone we trust vouched for. Nothing here raises per request.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

import msgspec

from asgi_guard._forwarded import INVALID_ADDRESS, MAX_ADDRESS, forwarded_for, parse_address
from asgi_guard._headers import get_all
from asgi_guard.context import GuardContext
from asgi_guard.errors import ConfigurationError
from asgi_guard.events.emit import emit, fingerprint

if TYPE_CHECKING:
    from collections.abc import Callable

    from asgi_guard.types import ASGIApp, Receive, Scope, Send

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAPPED: Final = ipaddress.IPv6Network("::ffff:0:0/96")
EVENT_INVALID_PEER: Final = "client_ip_invalid"
"""The security event of a peer address that is not an IP address (its text is only fingerprinted)."""


class ClientIPConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which peers may tell us who the client is.

    Attributes:
        trusted_proxies: addresses or CIDR networks of your own proxies (``"10.0.0.0/8"``,
            ``"127.0.0.1"``). Required, with no default: an empty tuple trusts nobody, so the peer
            address is the client. Never list networks that untrusted clients connect from.
        header: the header your outermost proxy writes: ``"x-forwarded-for"`` or ``"forwarded"``
            (RFC 7239). Only that header is read; reading one your proxy passes through untouched
            would let clients choose their address.
        ipv6_prefix: mask IPv6 clients to this prefix length (a subscriber usually owns a whole /64,
            so keying rate limits on the full address lets it rotate through 2**64 identities);
            ``None`` keeps full addresses. IPv4 addresses are never masked.

    Note:
        uvicorn rewrites ``scope["client"]`` (and the scheme) from ``X-Forwarded-For`` and
        ``X-Forwarded-Proto`` itself when its peer is in ``--forwarded-allow-ips`` (loopback by
        default). Run uvicorn with ``--no-proxy-headers`` (``asgi_guard.cli.uvicorn_options()``) so
        this config alone decides.
    """

    trusted_proxies: tuple[str, ...]
    header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    ipv6_prefix: int | None = 64

    def __post_init__(self) -> None:
        entries: object = self.trusted_proxies  # msgspec does not check types on __init__
        if isinstance(entries, str) or not isinstance(entries, tuple | list):
            raise ConfigurationError.expected(
                "a tuple of addresses or CIDRs", self.trusted_proxies, "ClientIPConfig.trusted_proxies"
            )
        _parse_networks(self.trusted_proxies)
        if self.header not in ("x-forwarded-for", "forwarded"):
            raise ConfigurationError.expected('"x-forwarded-for" or "forwarded"', self.header, "ClientIPConfig.header")
        prefix: object = self.ipv6_prefix
        if prefix is not None and (isinstance(prefix, bool) or not isinstance(prefix, int) or not 1 <= prefix <= 128):
            raise ConfigurationError.expected("an int in 1..128 or None", prefix, "ClientIPConfig.ipv6_prefix")


def _parse_networks(entries: tuple[str, ...] | list[str]) -> tuple[Network, ...]:
    networks: list[Network] = []
    for index, entry in enumerate(entries):
        where = f"ClientIPConfig.trusted_proxies[{index}]"
        if not isinstance(entry, str):
            raise ConfigurationError.expected("an address or CIDR string", entry, where)
        try:
            network = ipaddress.ip_network(entry.strip(), strict=True)
        except ValueError as exc:
            raise ConfigurationError.expected("an IP address or a CIDR without host bits", entry, where) from exc
        if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED) and network.prefixlen >= 96:
            # Peers written ::ffff:a.b.c.d are compared as IPv4, so their networks must be IPv4 too.
            network = ipaddress.IPv4Network((int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96))
        networks.append(network)
    return tuple(networks)


class ClientIPMiddleware:
    """Sets ``GuardContext.client_ip`` for ``http`` and ``websocket`` scopes; ``lifespan`` passes through.

    The scope itself is not modified: ``scope["client"]`` stays the peer. A peer that is not an IP
    address becomes ``"invalid"`` (one shared rate-limit key, never the text itself) with a
    ``client_ip_invalid`` security event.
    """

    __slots__ = ("_classify", "_forwarded", "_header", "_mask", "_networks", "app", "config")

    def __init__(self, app: ASGIApp, config: ClientIPConfig) -> None:
        self.app = app
        self.config = config
        self._networks = _parse_networks(config.trusted_proxies)
        self._header = config.header.encode("ascii")
        self._forwarded = config.header == "forwarded"
        prefix = config.ipv6_prefix
        self._mask = None if prefix is None or prefix == 128 else ((1 << prefix) - 1) << (128 - prefix)
        # The same few proxy and client addresses come back request after request, and parsing,
        # network membership and formatting cost microseconds each: classify each text once.
        self._classify: Callable[[str], tuple[str, bool] | None] = lru_cache(maxsize=4096)(self._compute)

    def _compute(self, text: str) -> tuple[str, bool] | None:
        """``(key, trusted)`` for an address text, or ``None`` when it is not an address."""
        address = parse_address(text)
        if address is None:
            return None
        trusted = any(address in network for network in self._networks)
        if self._mask is not None and isinstance(address, ipaddress.IPv6Address):
            return str(ipaddress.IPv6Address(int(address) & self._mask)), trusted
        return str(address), trusted

    def _lookup(self, text: str) -> tuple[str, bool] | None:
        text = text.strip()
        if len(text) > MAX_ADDRESS:  # never an address, and never pinned in the cache
            return None
        return self._classify(text)

    def resolve(self, scope: Scope) -> str:
        """The client address for ``scope`` (masked for keying), or ``""`` when there is no peer."""
        client = scope.get("client")
        peer_text = str(client[0]) if client else ""
        peer = self._lookup(peer_text)
        if peer is None:
            # Not an IP address (a server that let a header rewrite it, a socket path): never trusted,
            # never logged or used as a rate-limit key as it is.
            return INVALID_ADDRESS if peer_text else ""
        nearest, trusted = peer
        if not trusted:
            return nearest
        values = get_all(scope, self._header)
        if not values:
            return nearest
        joined = ",".join(value.decode("latin-1") for value in values)
        hops = forwarded_for(joined) if self._forwarded else joined.split(",")
        for hop in reversed(hops):
            found = self._lookup(hop) if hop is not None else None
            if found is None:
                return nearest
            if not found[1]:
                return found[0]
            nearest = found[0]
        return nearest  # every hop is one of our proxies: the leftmost is the client

    def peer_is_proxy(self, scope: Scope) -> bool:
        """Whether the peer is one of the trusted proxies."""
        client = scope.get("client")
        found = self._lookup(str(client[0])) if client else None
        return found is not None and found[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            ctx, send = GuardContext.enter(scope, send)
            ctx.client_ip = address = self.resolve(scope)
            if address == INVALID_ADDRESS:
                client = scope.get("client")
                peer = str(client[0]) if client else ""
                emit(scope, EVENT_INVALID_PEER, "alert", "peer_not_an_ip_address", peer_fingerprint=fingerprint(peer))
            if self._networks and self.peer_is_proxy(scope):
                ctx.proxy_header = self.config.header
        await self.app(scope, receive, send)


__all__ = ("ClientIPConfig", "ClientIPMiddleware")
