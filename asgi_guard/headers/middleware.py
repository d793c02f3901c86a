"""Adds the configured security headers to every HTTP response and serves security.txt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from asgi_guard.context import GuardContext
from asgi_guard.headers.config import FIELDS, SecurityHeadersConfig
from asgi_guard.headers.security_txt import SECURITY_TXT_PATH

if TYPE_CHECKING:
    from asgi_guard.types import ASGIApp, Receive, Scope, Send

_HSTS: Final = b"strict-transport-security"
_SECURE_SCHEMES: Final = frozenset({"https", "wss"})


class SecurityHeadersMiddleware:
    """Adds each configured header the app did not set itself, on ``http.response.start`` only.

    Only ``http`` scopes are touched: ``websocket`` and ``lifespan`` pass straight through (a
    websocket handshake response is not a document a browser renders). ``GET``/``HEAD`` of
    ``/.well-known/security.txt`` is answered from the config when one is given; other methods on
    that path reach the app. Header bytes are built once, here.
    """

    __slots__ = ("_http", "_https", "_names", "_txt_body", "_txt_headers", "app", "config")

    def __init__(self, app: ASGIApp, config: SecurityHeadersConfig) -> None:
        self.app = app
        self.config = config
        pairs: list[tuple[bytes, bytes]] = []
        for field, name in FIELDS:
            value = getattr(config, field)
            if value is not None:
                pairs.append((name, value.encode("latin-1")))
        pairs.extend((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in config.extra_headers)
        self._https: tuple[tuple[bytes, bytes], ...] = tuple(pairs)
        self._http = self._https if config.hsts_on_http else tuple(pair for pair in pairs if pair[0] != _HSTS)
        self._names = frozenset(name for name, _ in pairs)
        if config.security_txt is not None:
            self._txt_body: bytes | None = config.security_txt.render()
            self._txt_headers: tuple[tuple[bytes, bytes], ...] = (
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(self._txt_body)).encode()),
                (b"cache-control", b"max-age=86400"),
            )
        else:
            self._txt_body = None
            self._txt_headers = ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        ctx, send = GuardContext.enter(scope, send)
        # Defaults the app may override: the context's response hook adds each the app did not set.
        ctx.default_headers = self._https if scope.get("scheme") in _SECURE_SCHEMES else self._http
        ctx.default_names = self._names
        if (
            self._txt_body is not None
            and ctx.route_path(scope) == SECURITY_TXT_PATH
            and scope["method"] in ("GET", "HEAD")
        ):
            await send({"type": "http.response.start", "status": 200, "headers": list(self._txt_headers)})
            body = self._txt_body if scope["method"] == "GET" else b""
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return

        await self.app(scope, receive, send)


__all__ = ("SecurityHeadersMiddleware",)
