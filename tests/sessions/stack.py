"""A small guarded app for the session and CSRF tests: cookie sessions, bearer tokens, API keys."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from asgi_guard import guard
from asgi_guard.auth import (
    APIKeyAuth,
    APIKeyRecord,
    AuthConfig,
    JWTAuth,
    KeyRing,
    MemoryAPIKeyStore,
    MemoryRevocationStore,
    TokenService,
    create_api_key,
    hash_api_key,
)
from asgi_guard.clientip import ClientIPConfig
from asgi_guard.context import CONTEXT_KEY
from asgi_guard.csrf import CSRFConfig, csrf_headers, csrf_input, csrf_meta, csrf_token
from asgi_guard.events import EventsConfig
from asgi_guard.sessions import SessionCookies
from asgi_guard.types import ASGIApp, Receive, Scope, Send
from asgi_guard.webhooks import GenericHMAC, WebhookConfig

JWT_SECRET = b"j" * 32
CSRF_SECRET = b"c" * 32
WEBHOOK_SECRET = "w" * 32
ISSUER = "test-issuer"
AUDIENCE = "test-api"


class Recorder:
    """The app: records every call (method, path, body, principal) and answers 200."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            self.calls.append({"type": "websocket"})
            await send({"type": "websocket.accept"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/page":  # a page rendering the CSRF helpers, as a template would
            rendered = {
                "token": csrf_token(scope),
                "input": csrf_input(scope),
                "meta": csrf_meta(scope),
                "headers": csrf_headers(scope),
            }
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": msgspec.json.encode(rendered)})
            return
        ctx = scope.get(CONTEXT_KEY)
        principal = ctx.principal if ctx is not None else None
        self.calls.append({"method": scope["method"], "path": scope["path"], "body": body, "principal": principal})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class Stack:
    """The guarded app and what tests need to talk to it."""

    app: ASGIApp
    inner: Recorder
    tokens: TokenService
    cookies: SessionCookies
    api_key: str
    csrf: CSRFConfig | None
    extra: dict[str, Any] = field(default_factory=dict)


def build(
    *,
    cookies: SessionCookies | None = None,
    csrf: CSRFConfig | None = None,
    trusted_proxies: tuple[str, ...] = (),
    proxy_header: str = "x-forwarded-for",
) -> Stack:
    """Events, client ip, webhooks, authentication (cookie + bearer + API key), CSRF when given."""
    cookies = cookies or SessionCookies()
    revocation = MemoryRevocationStore()
    keyring = KeyRing.single(JWT_SECRET, kid="t1")
    tokens = TokenService(keyring, revocation, issuer=ISSUER, audience=AUDIENCE)
    api_key = create_api_key("wa")
    store = MemoryAPIKeyStore(
        [
            APIKeyRecord(
                key_hash=hash_api_key(api_key),
                name="bot",
                owner_id="bot-1",
                owner_roles=frozenset({"user"}),
                created_at=time.time(),
            )
        ]
    )
    inner = Recorder()
    configs: list[Any] = [
        EventsConfig(),
        ClientIPConfig(trusted_proxies=trusted_proxies, header=proxy_header),  # type: ignore[arg-type]
        WebhookConfig(routes={"/webhook": GenericHMAC(secrets=[WEBHOOK_SECRET])}),
        AuthConfig(
            api_key=APIKeyAuth(store=store),
            jwt=JWTAuth(keyring=keyring, revocation=revocation, issuer=ISSUER, audience=AUDIENCE),
            session=cookies,
            exclude=("/webhook", "/auth/refresh"),
            optional=("/public",),
        ),
    ]
    if csrf is not None:
        configs.append(csrf)
    return Stack(guard(inner, *configs), inner, tokens, cookies, api_key, csrf)
