"""Parsing forwarded hops: addresses with optional ports, and RFC 7239 ``Forwarded`` elements.

Total functions: any text gives a value or ``None``, never an exception (the values come from the
network). Trust decisions live in :mod:`asgi_guard.clientip`.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Final, TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_ADDRESS: Final = 64  # "[<45-char IPv4-mapped IPv6>]:65535" fits; anything longer is never an address
INVALID_ADDRESS: Final = "invalid"
"""Stands for a client address that is not an IP address: such text is never logged or used as a key."""


def parse_address(text: str) -> IPAddress | None:
    """An address from a forwarded hop (``1.2.3.4``, ``1.2.3.4:80``, ``[2001:db8::1]:443``, ``2001:db8::1``).

    IPv4-mapped IPv6 addresses become IPv4. Anything else (``unknown``, ``_hidden``, junk) is ``None``,
    and so is an address with a zone id (``fe80::1%eth0``): it means nothing beyond one host's links,
    and the zone text is free-form, so it would smuggle arbitrary characters into keys and logs.
    """
    text = text.strip()
    if not text or len(text) > MAX_ADDRESS or "%" in text:
        return None
    if text[0] == "[":
        end = text.find("]")
        if end == -1 or (end + 1 < len(text) and not _is_port(text[end + 1 :])):
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not _is_port(":" + port):
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def safe_peer(text: str) -> str:
    """The peer address as the server reported it when it is an IP address, else :data:`INVALID_ADDRESS`
    (``""``, no peer at all, stays ``""``). For the places that read ``scope["client"]`` directly."""
    if not text:
        return ""
    if len(text) > MAX_ADDRESS:  # never an address, and never pinned in the cache
        return INVALID_ADDRESS
    return _safe_peer(text)


@lru_cache(maxsize=1024)
def _safe_peer(text: str) -> str:
    return text if parse_address(text) is not None else INVALID_ADDRESS


def _is_port(text: str) -> bool:
    return len(text) > 1 and text[0] == ":" and text[1:].isdigit() and text[1:].isascii() and len(text) <= 6


def forwarded_for(value: str) -> list[str | None]:
    """The ``for=`` value of each element of an RFC 7239 ``Forwarded`` header, left to right.

    Elements are split on commas outside quoted strings; a malformed element, or one without
    ``for``, yields ``None`` (it stops the walk, it is never guessed at).
    """
    return forwarded_param(value, "for")


def forwarded_param(value: str, parameter: str) -> list[str | None]:
    """The ``parameter`` value (``for``, ``proto``, ``host``) of each element of a ``Forwarded`` header.

    A malformed element, or one without ``parameter``, yields ``None``.
    """
    hops: list[str | None] = []
    for element in _split(value, ","):
        found: str | None = None
        ok = True
        for pair in _split(element, ";"):
            name, sep, raw = pair.partition("=")
            name = name.strip().lower()
            raw = raw.strip()
            if not sep or not name or not raw:
                if pair.strip():
                    ok = False
                continue
            if raw[0] == '"':
                unquoted = _unquote(raw)
                if unquoted is None:
                    ok = False
                    continue
                raw = unquoted
            if name == parameter:
                ok = ok and found is None  # a repeated parameter is malformed (RFC 7239 §4)
                found = raw
        hops.append(found if ok else None)
    return hops


def _split(value: str, separator: str) -> list[str]:
    """Split on ``separator`` outside double-quoted strings (backslash escapes honoured)."""
    parts: list[str] = []
    start = 0
    quoted = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(value[start:index])
            start = index + 1
    parts.append(value[start:])
    return parts


def _unquote(raw: str) -> str | None:
    if len(raw) < 2 or raw[-1] != '"':
        return None
    out: list[str] = []
    body = raw[1:-1]
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            index += 1
            if index == len(body):
                return None
            char = body[index]
        elif char == '"':
            return None
        out.append(char)
        index += 1
    return "".join(out)


__all__ = ("MAX_ADDRESS", "IPAddress", "forwarded_for", "forwarded_param", "parse_address")
