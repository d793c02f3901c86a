"""Typed access to what the validation layer decoded, so apps never decode a body twice.

The body lands in ``GuardContext.payload``; body, query and path objects together in a
:class:`Validated` record, ``GuardContext.validated``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, get_origin

import msgspec

from asgi_guard.context import GuardContext, context_of
from asgi_guard.errors import MissingGuardContext

if TYPE_CHECKING:
    from asgi_guard.types import Scope

T = TypeVar("T")


class Validated:
    """The decoded parts of one request (``msgspec.UNSET`` for a part the route does not declare)."""

    __slots__ = ("body", "path", "query")

    def __init__(self, body: Any = msgspec.UNSET, query: Any = msgspec.UNSET, path: Any = msgspec.UNSET) -> None:
        self.body = body
        self.query = query
        self.path = path


def store(scope: Scope, validated: Validated) -> None:
    """Publish ``validated`` on the request's context (the body also as its ``payload``)."""
    ctx = GuardContext.from_scope(scope)
    ctx.validated = validated
    if validated.body is not msgspec.UNSET:
        ctx.payload = validated.body


def _typed(value: Any, schema: type[T], part: str) -> T:
    if value is msgspec.UNSET:
        raise MissingGuardContext(
            f"No validated {part} on this request: install asgi_guard.ValidationMiddleware "
            f"(or ValidationConfig in guard(...)) with a `{part}` schema for this route"
        )
    runtime = get_origin(schema) or schema
    if not isinstance(value, runtime):
        raise TypeError(f"Expected the validated {part} as `{schema!r}`, got `{type(value).__name__}`")
    return value


def get_payload(scope_or_request: Any, schema: type[T]) -> T:
    """The validated body as ``schema``.

    Args:
        scope_or_request: an ASGI scope or a request object with ``.scope`` (Starlette, Litestar).
        schema: the body type the route declares.

    Raises:
        MissingGuardContext: validation did not run for this request.
        TypeError: the route's body type is not ``schema``.
    """
    ctx = context_of(scope_or_request)
    payload = ctx.payload if ctx is not None else msgspec.UNSET
    return _typed(payload, schema, "body")


def _part(scope_or_request: Any, name: str) -> Any:
    ctx = context_of(scope_or_request)
    validated = ctx.validated if ctx is not None else None
    return getattr(validated, name) if isinstance(validated, Validated) else msgspec.UNSET


def get_query(scope_or_request: Any, schema: type[T]) -> T:
    """The validated query parameters as ``schema`` (raises like :func:`get_payload`)."""
    return _typed(_part(scope_or_request, "query"), schema, "query")


def get_path_params(scope_or_request: Any, schema: type[T]) -> T:
    """The validated path parameters as ``schema`` (raises like :func:`get_payload`)."""
    return _typed(_part(scope_or_request, "path"), schema, "path")


__all__ = ("Validated", "get_path_params", "get_payload", "get_query", "store")
