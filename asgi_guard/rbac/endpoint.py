"""Endpoint-level permission checks: the shared decision and the Starlette decorator.

Every integration (this decorator, the FastAPI dependency, the Litestar guard) asks the same
question of the same data: the principal authentication set, the community roles tenancy resolved,
and the role hierarchy :class:`RBACMiddleware` compiled.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, Literal, ParamSpec

from asgi_guard._responses import send_denial
from asgi_guard.context import CONTEXT_KEY
from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError
from asgi_guard.rbac.authorizer import request_matcher
from asgi_guard.rbac.permissions import check_requirement

if TYPE_CHECKING:
    from collections.abc import Callable

    from asgi_guard.types import Receive, Scope, Send

P = ParamSpec("P")


class Requirement:
    """Permissions an endpoint needs, validated when the endpoint is declared.

    Args:
        permissions: required permissions (``resource:action``, ``resource:*``, ``*`` or ``authenticated``).
        mode: ``all`` (every one) or ``any`` (at least one).
    """

    __slots__ = ("any_of", "permissions")

    def __init__(self, permissions: tuple[str, ...], mode: Literal["all", "any"] = "all") -> None:
        if not permissions:
            raise ConfigurationError.expected("at least one permission", permissions, "requires_permission")
        for index, permission in enumerate(permissions):
            check_requirement(permission, f"requires_permission[{index}]")
        if mode not in ("all", "any"):
            raise ConfigurationError.expected("`all` or `any`", mode, "requires_permission.mode")
        self.permissions = permissions
        self.any_of = mode == "any"

    def denial(self, scope: Scope) -> GuardError | None:
        """Why the request may not reach the endpoint, or ``None`` when it may."""
        matcher = request_matcher(scope)
        if matcher is None:
            return GuardError(ErrorCode.MISSING_CREDENTIALS, "no_principal")
        if matcher.allows(self.permissions, self.any_of):
            return None
        return GuardError(ErrorCode.INSUFFICIENT_PERMISSIONS, f"endpoint_requires:{','.join(self.permissions)}")


def is_bearer(scope: Scope) -> bool:
    """Whether the request's principal authenticated with a bearer token (RFC 6750 challenge)."""
    ctx = scope.get(CONTEXT_KEY)
    principal = getattr(ctx, "principal", None)
    return principal is not None and principal.method == "jwt"


class Denial:
    """An ASGI response (Starlette endpoints may return any ASGI callable) rendering a refusal."""

    __slots__ = ("error",)

    def __init__(self, error: GuardError) -> None:
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_denial(scope, send, self.error, bearer=is_bearer(scope))


def _connection_index(func: Callable[..., Any]) -> tuple[int, str]:
    for index, parameter in enumerate(inspect.signature(func).parameters.values()):
        if parameter.name in ("request", "websocket"):
            return index, parameter.name
    raise ConfigurationError.expected("a `request` or `websocket` parameter", func.__qualname__, "requires_permission")


def requires_permission(
    *permissions: str, mode: Literal["all", "any"] = "all"
) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Decorate a Starlette endpoint (function or ``HTTPEndpoint`` method) with a permission check.

    Refusals use the same JSON error contract as the middleware: 401 ``missing_credentials`` without
    a principal, 403 ``insufficient_permissions`` otherwise (websockets are closed with 1008).

    Raises:
        ConfigurationError: a malformed permission, or an endpoint without ``request``/``websocket``.
    """
    requirement = Requirement(permissions, mode)

    def decorator(func: Callable[P, Any]) -> Callable[P, Any]:
        index, name = _connection_index(func)

        def connection(args: Any, kwargs: Any) -> Any:
            return kwargs[name] if name in kwargs else args[index]

        if name == "websocket":

            @functools.wraps(func)
            async def websocket_wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
                websocket = connection(args, kwargs)
                error = requirement.denial(websocket.scope)
                if error is not None:
                    await send_denial(websocket.scope, websocket.send, error)
                    return
                await func(*args, **kwargs)

            return websocket_wrapper

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                error = requirement.denial(connection(args, kwargs).scope)
                if error is not None:
                    return Denial(error)
                return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            error = requirement.denial(connection(args, kwargs).scope)
            if error is not None:
                return Denial(error)
            return func(*args, **kwargs)

        return sync_wrapper

    return decorator


__all__ = ("Denial", "Requirement", "is_bearer", "requires_permission")
