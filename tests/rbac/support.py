"""Test stand-ins for the authentication layer (owned by another package) and a recording app."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from asgi_guard.compose import Layer
from asgi_guard.context import GuardContext
from asgi_guard.principal import GuardCredentials, PermissionSet, Principal
from asgi_guard.types import ASGIApp, Receive, Scope, Send

USER_HEADER = b"x-test-user"


class PrincipalFromHeader:
    """Sets the principal named by ``X-Test-User``, the way authentication would (scope user and auth too)."""

    def __init__(self, app: ASGIApp, principals: Mapping[str, Principal]) -> None:
        self.app = app
        self.principals = principals

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            name = dict(scope["headers"]).get(USER_HEADER)
            principal = self.principals.get(name.decode()) if name is not None else None
            if principal is not None:
                GuardContext.from_scope(scope).principal = principal
                scope["user"] = principal
                scope["auth"] = GuardCredentials(PermissionSet(principal.permissions))
        await self.app(scope, receive, send)


class FakeAuthConfig:
    """A config object taking the `authentication` place in `guard(...)`."""

    def __init__(self, principals: Mapping[str, Principal]) -> None:
        self.principals = principals

    def guard_layer(self) -> Layer:
        return Layer("authentication", (), lambda app: PrincipalFromHeader(app, self.principals))


class Seen:
    """What the innermost app observed, one entry per call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []


def recording_app(seen: Seen) -> ASGIApp:
    """An app answering 200 with the community in the context, recording each call."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        ctx = GuardContext.from_scope(scope)
        seen.calls.append(
            {"community_id": ctx.community_id, "community_roles": ctx.community_roles, "type": scope["type"]}
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1000})
            return
        if scope["type"] == "lifespan":
            return
        body = msgspec.json.encode({"community_id": ctx.community_id})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app


ALICE = Principal("alice", roles=frozenset({"user"}), method="jwt")
MOD = Principal("mod", roles=frozenset({"moderator"}), method="jwt")
OWNER = Principal("owner", roles=frozenset({"community_owner"}), method="api_key")
ROOT = Principal("root", roles=frozenset({"admin"}), method="jwt")
