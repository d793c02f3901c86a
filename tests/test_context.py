"""The per-request GuardContext and its accessors."""

from __future__ import annotations

import msgspec
import pytest
from starlette.requests import Request

from asgi_guard.context import (
    CONTEXT_KEY,
    GuardContext,
    client_host,
    get_community_id,
    get_context,
    get_principal,
)
from asgi_guard.errors import MissingGuardContext
from asgi_guard.principal import Principal
from asgi_guard.testing import make_scope


def test_from_scope_creates_once_and_shares() -> None:
    """from_scope creates the context lazily and returns the same object afterwards, also via a scope copy."""
    scope = make_scope()
    ctx = GuardContext.from_scope(scope)
    assert scope[CONTEXT_KEY] is ctx
    assert GuardContext.from_scope(dict(scope)) is ctx
    assert (ctx.request_id, ctx.client_ip, ctx.principal, ctx.body, ctx.events) == ("", "", None, None, [])
    assert ctx.payload is msgspec.UNSET
    assert ctx.community_roles == frozenset()


def test_context_is_slotted() -> None:
    """The context refuses unknown attributes, so typos fail loudly."""
    ctx = GuardContext()
    with pytest.raises(AttributeError):
        ctx.tenant = "x"  # type: ignore[attr-defined]


def test_get_context_accepts_scopes_and_requests() -> None:
    """get_context works on a scope or anything with .scope (Starlette Request)."""
    scope = make_scope()
    ctx = GuardContext.from_scope(scope)
    assert get_context(scope) is ctx
    assert get_context(Request(scope)) is ctx
    assert get_context(type("Connection", (), {"scope": scope})()) is ctx


def test_get_context_without_middleware_names_the_fix() -> None:
    """Without any asgi_guard layer, get_context raises MissingGuardContext saying what to install."""
    with pytest.raises(MissingGuardContext, match=r"asgi_guard\.guard"):
        get_context(make_scope())


def test_get_context_rejects_non_scopes() -> None:
    """Passing something that is neither a scope nor a request is a TypeError."""
    with pytest.raises(TypeError, match="ASGI scope"):
        get_context(42)
    with pytest.raises(TypeError):
        get_context(type("Fake", (), {"scope": "not a mapping"})())


def test_get_principal_and_community() -> None:
    """get_principal / get_community_id return the values, or raise naming the middleware to install."""
    scope = make_scope()
    with pytest.raises(MissingGuardContext, match="AuthenticationMiddleware"):
        get_principal(scope)
    with pytest.raises(MissingGuardContext, match="TenancyMiddleware"):
        get_community_id(scope)
    ctx = GuardContext.from_scope(scope)
    with pytest.raises(MissingGuardContext):
        get_principal(scope)
    ctx.principal = Principal("u1")
    ctx.community_id = "c-1"
    assert get_principal(Request(scope)).id == "u1"
    assert get_community_id(scope) == "c-1"


def test_client_host_prefers_the_resolved_ip() -> None:
    """client_host returns the client-ip layer's result, else the peer, else ""."""
    scope = make_scope(client=("10.0.0.1", 1))
    assert client_host(scope) == "10.0.0.1"
    GuardContext.from_scope(scope)
    assert client_host(scope) == "10.0.0.1"
    GuardContext.from_scope(scope).client_ip = "198.51.100.7"
    assert client_host(scope) == "198.51.100.7"
    assert client_host(make_scope(client=None)) == ""
