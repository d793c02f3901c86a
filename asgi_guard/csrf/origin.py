"""Origins: serialised ``scheme://host[:port]`` (RFC 6454 §6.1), and the request's own.

Total functions: any text gives a normalised origin or ``None``, never an exception (the values come
from the network). Schemes and hosts are lower-cased and default ports dropped, so
``https://Example.com:443`` and ``https://example.com`` compare equal.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from asgi_guard._forwarded import forwarded_param
from asgi_guard._headers import get_all, get_unique
from asgi_guard.context import CONTEXT_KEY

if TYPE_CHECKING:
    from asgi_guard.types import Scope

_DEFAULT_PORT: Final = {"http": 80, "https": 443}
_WS_SCHEME: Final = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
MAX_URL: Final = 4096
MEMO_MAX: Final = 128
"""Texts up to this length are remembered (bounded: 1024 entries), longer ones parsed each time."""


def _printable_ascii(text: str) -> bool:
    # urlsplit silently drops tabs and newlines (bpo-43882): refuse them instead of comparing a cleaned value.
    return text.isascii() and text.isprintable() and " " not in text


def normalize_origin(text: str, *, allow_path: bool = False) -> str | None:
    """The serialised origin of ``text`` (an ``Origin`` value, or a URL when ``allow_path``), or ``None``.

    Only ``http`` and ``https`` with a host are origins here; userinfo, a path (for an ``Origin``),
    a bad port or a non-printable character gives ``None``.
    """
    # The same few origins (and Host values) come back request after request: remember short ones.
    if len(text) <= MEMO_MAX:
        return _normalize_memo(text, allow_path)
    return _normalize(text, allow_path)


def _normalize(text: str, allow_path: bool) -> str | None:
    if not text or len(text) > MAX_URL or not _printable_ascii(text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORT or not host or "@" in parts.netloc or parts.netloc.endswith(":"):
        return None
    if not allow_path and (parts.path or parts.query or parts.fragment or text.endswith(("?", "#"))):
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORT[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


_normalize_memo: Final = lru_cache(maxsize=1024)(_normalize)


def _rightmost(scope: Scope, name: bytes) -> str | None:
    values = get_all(scope, name)
    if not values:
        return None
    return b",".join(values).decode("latin-1").rsplit(",", 1)[-1].strip() or None


def request_origin(scope: Scope) -> str | None:
    """The origin this request was sent to, or ``None`` when it cannot be told.

    The scheme is ``scope["scheme"]`` (which uvicorn already rewrites from ``X-Forwarded-Proto`` for
    peers in its ``--forwarded-allow-ips``) and the host is the ``Host`` header. When the client-ip
    layer found the peer to be one of the trusted proxies, that proxy's ``X-Forwarded-Proto`` /
    ``X-Forwarded-Host`` (or ``Forwarded: proto=;host=``) win: the value the nearest proxy wrote,
    the rightmost one. Never from an untrusted peer: anyone can write those headers.

    Raises:
        GuardError: ``malformed_request`` for a duplicated ``Host``.
    """
    scheme = _WS_SCHEME.get(str(scope.get("scheme", "http")).lower())
    raw_host = get_unique(scope, b"host")
    host = raw_host.decode("latin-1") if raw_host is not None else None
    ctx = scope.get(CONTEXT_KEY)
    proxy = getattr(ctx, "proxy_header", None)
    if proxy == "x-forwarded-for":
        scheme = _WS_SCHEME.get((_rightmost(scope, b"x-forwarded-proto") or scheme or "").lower())
        host = _rightmost(scope, b"x-forwarded-host") or host
    elif proxy == "forwarded":
        raw = get_all(scope, b"forwarded")
        if raw:
            last = ",".join(value.decode("latin-1") for value in raw)
            proto = forwarded_param(last, "proto")[-1]
            forwarded_host = forwarded_param(last, "host")[-1]
            scheme = _WS_SCHEME.get((proto or scheme or "").lower())
            host = forwarded_host or host
    if scheme is None:
        return None
    if host is None:
        server = scope.get("server")
        if not server or server[1] is None:
            return None
        host = f"[{server[0]}]:{server[1]}" if ":" in str(server[0]) else f"{server[0]}:{server[1]}"
    return normalize_origin(f"{scheme}://{host.strip()}")


__all__ = ("MAX_URL", "MEMO_MAX", "normalize_origin", "request_origin")
