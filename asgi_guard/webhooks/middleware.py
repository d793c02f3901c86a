"""The webhooks layer: buffer the raw body (capped), verify its signature, refuse replays, and
replay the exact bytes to the app."""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING, Final

from asgi_guard._body import ClientDisconnected, read_body
from asgi_guard._headers import get_header
from asgi_guard._responses import send_denial
from asgi_guard._routing import ANY_METHOD, RouteTable
from asgi_guard.clock import SYSTEM_CLOCK
from asgi_guard.context import GuardContext
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.events.emit import emit
from asgi_guard.webhooks.replay import MemoryReplayStore, ReplayStoreUnavailable
from asgi_guard.webhooks.verified import VerifiedWebhook

if TYPE_CHECKING:
    from asgi_guard.clock import Clock
    from asgi_guard.types import ASGIApp, Receive, Scope, Send
    from asgi_guard.webhooks._base import Check, Reply, Verified, Verifier
    from asgi_guard.webhooks.config import WebhookConfig
    from asgi_guard.webhooks.replay import ReplayStore

EVENT_VERIFIED: Final = "webhook_verified"
EVENT_REPLY: Final = "webhook_answered"


class _Route:
    """One configured route, compiled."""

    __slots__ = ("acknowledge_replays", "check", "fail_open", "namespace", "template")

    def __init__(self, template: str, verifier: Verifier) -> None:
        self.template = template
        self.check: Check = verifier.build()
        self.acknowledge_replays = verifier.on_replay == "acknowledge"
        self.fail_open = verifier.replay_fail_mode == "open"
        # Keys are namespaced per route template (stable across deploys, unlike an index).
        self.namespace = hashlib.sha256(template.encode("utf-8")).hexdigest()[:12].encode("ascii") + b":"


class WebhookMiddleware:
    """Verifies webhook signatures on the configured routes; other requests pass through untouched.

    A verified request reaches the app with the exact bytes the provider signed and a
    :class:`VerifiedWebhook` in the request's context (read it with :func:`get_webhook`). Every
    refusal is a 4xx (or 503 when the replay store is down and the route fails closed) with a
    security event naming the provider and message id, never the signature or the secret. A
    delivery counts as seen (a later copy is a replay) once it was answered inline or the app
    accepted it with a 2xx; any other outcome (an exception, a 4xx or 5xx from the app or from an
    inner guard) forgets it, so the provider's retry is processed.
    """

    __slots__ = ("_clock", "_fmt", "_max_body", "_store", "_table", "app", "config")

    def __init__(self, app: ASGIApp, config: WebhookConfig) -> None:
        self.app = app
        self.config = config
        self._table: RouteTable[_Route] = RouteTable(
            (ANY_METHOD, template, _Route(template, verifier)) for template, verifier in config.routes.items()
        )
        self._clock: Clock = config.clock if config.clock is not None else SYSTEM_CLOCK
        self._store: ReplayStore = (
            config.replay_store if config.replay_store is not None else MemoryReplayStore(clock=self._clock)
        )
        self._max_body = config.max_body_bytes
        self._fmt = config.error_format

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx, send = GuardContext.enter(scope, send)
        found = self._table.match(scope["method"], ctx.route_path(scope))
        if found is None:
            await self.app(scope, receive, send)
            return
        route = found[0]
        check = route.check
        try:
            body, receive = await read_body(scope, receive, self._max_body)
            verified = check.verify(scope, body, self._clock.time())
        except ClientDisconnected:
            return  # nobody left to answer
        except GuardError as error:
            await self._deny(scope, send, error, route, self._claimed_id(scope, check))
            return

        key, fresh = None, True
        if verified.replay_key is not None:
            # Every verified delivery is claimed before anything answers it, inline replies included:
            # an unsigned header (Twitch's message type) must not turn an answered challenge into a
            # notification that reaches the app.
            key = route.namespace + verified.replay_key
            try:
                fresh = await self._store.remember(key, check.window)
            except ReplayStoreUnavailable:
                if not route.fail_open:
                    down = GuardError(ErrorCode.SERVICE_UNAVAILABLE, "replay_store_unavailable")
                    await self._deny(scope, send, down, route, verified.message_id)
                    return
                emit(scope, "backend_failure", "allow", "replay_store_unavailable", provider=check.provider)
                fresh, key = True, None
            if not fresh and verified.reply is None:
                await self._replayed(scope, send, route, verified)
                return

        if verified.reply is not None:
            # Challenges, PINGs and revocation acks are answered here and the claim above stays. A
            # copy asking for the same inline answer gets it again (a provider retrying a challenge
            # must not fail verification); it never reaches the app either way.
            await self._answer(scope, send, route, verified, verified.reply, repeated=not fresh)
            return

        ctx.webhook = VerifiedWebhook(provider=check.provider, message_id=verified.message_id, route=route.template)
        emit(scope, EVENT_VERIFIED, "allow", "signature_valid", provider=check.provider, message_id=verified.message_id)
        if key is None:
            await self.app(scope, receive, send)
            return
        await self._call_app(scope, receive, send, ctx, key)

    async def _call_app(self, scope: Scope, receive: Receive, send: Send, ctx: GuardContext, key: bytes) -> None:
        """Run the app; unless it accepted the delivery (a 2xx), forget it so the provider's retry is processed.

        Anything else forgets it: an exception, a 4xx or 5xx from the app, an inner guard's refusal
        (429, 403, ...), a redirect, or no response at all.
        """
        accepted = False
        try:
            await self.app(scope, receive, send)
            accepted = 200 <= ctx.app_status < 300  # recorded by the context's response hook
        finally:
            if not accepted:
                with contextlib.suppress(ReplayStoreUnavailable):  # else the key expires with its window
                    await self._store.forget(key)

    async def _deny(self, scope: Scope, send: Send, error: GuardError, route: _Route, message_id: str) -> None:
        await send_denial(
            scope,
            send,
            error,
            fmt=self._fmt,
            provider=route.check.provider,
            message_id=message_id,
            route=route.template,
        )

    async def _replayed(self, scope: Scope, send: Send, route: _Route, verified: Verified) -> None:
        error = GuardError(ErrorCode.REPLAYED_MESSAGE, "duplicate_delivery")
        if not route.acknowledge_replays:
            await self._deny(scope, send, error, route, verified.message_id)
            return
        emit(
            scope,
            "signature_failure",
            "deny",
            "duplicate_delivery_acknowledged",
            provider=route.check.provider,
            message_id=verified.message_id,
            route=route.template,
        )
        await _respond(send, 200, b"", b"")

    async def _answer(
        self, scope: Scope, send: Send, route: _Route, verified: Verified, reply: Reply, *, repeated: bool
    ) -> None:
        emit(
            scope,
            EVENT_REPLY,
            "allow",
            f"{reply.kind}_repeated" if repeated else reply.kind,
            provider=route.check.provider,
            message_id=verified.message_id,
            route=route.template,
        )
        await _respond(send, reply.status, reply.content_type, reply.body)

    @staticmethod
    def _claimed_id(scope: Scope, check: Check) -> str:
        """The delivery id the request claims, for the security event of a refusal (cleaned by ``emit``)."""
        for name in check.id_headers:
            raw = get_header(scope, name)
            if raw:
                return raw.decode("latin-1")[:128]
        return ""


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode("ascii")), (b"cache-control", b"no-store")]
    if content_type:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


__all__ = ("WebhookMiddleware",)
