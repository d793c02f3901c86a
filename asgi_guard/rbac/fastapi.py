"""A FastAPI dependency enforcing permissions on one route (FastAPI is an optional dependency)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection  # noqa: TC002 - FastAPI reads the annotation at runtime
from starlette.responses import Response

from asgi_guard._responses import challenge, render_body
from asgi_guard.context import get_principal
from asgi_guard.errors import DETAIL, GuardError
from asgi_guard.events.emit import emit
from asgi_guard.rbac.endpoint import Requirement, is_bearer

if TYPE_CHECKING:
    from starlette.requests import Request

    from asgi_guard.principal import Principal


class PermissionDenied(HTTPException):
    """A refusal raised by :class:`RequirePermission`.

    It is an ``HTTPException``, so FastAPI answers it with the right status and ``WWW-Authenticate``
    even without extra setup; register :func:`permission_denied_handler` for the
    ``{"error", "detail"}`` body of the asgi_guard error contract.
    """

    def __init__(self, error: GuardError, bearer: bool) -> None:
        value = challenge(error.code, bearer=bearer)
        headers = {"WWW-Authenticate": value.decode()} if value is not None else None
        super().__init__(error.status, DETAIL[error.code], headers)
        self.code = error.code


async def permission_denied_handler(request: Request, exc: Exception) -> Response:
    """Render :class:`PermissionDenied` with the asgi_guard JSON error contract.

    Register it with ``app.add_exception_handler(PermissionDenied, permission_denied_handler)``.
    """
    if not isinstance(exc, PermissionDenied):
        raise exc  # registered for another exception type: leave it to the framework
    headers = {**(exc.headers or {}), "Cache-Control": "no-store"}
    return Response(render_body(exc.code), exc.status_code, headers, media_type="application/json")


class RequirePermission:
    """``Depends(RequirePermission("community:moderate"))``: refuses callers lacking the permissions.

    The dependency's value is the :class:`Principal`, so it doubles as "the current user".

    Args:
        permissions: required permissions.
        mode: ``all`` (every one) or ``any`` (at least one).
    """

    __slots__ = ("requirement",)

    def __init__(self, *permissions: str, mode: Literal["all", "any"] = "all") -> None:
        self.requirement = Requirement(permissions, mode)

    async def __call__(self, connection: HTTPConnection) -> Principal:
        scope = connection.scope
        error = self.requirement.denial(scope)
        if error is not None:
            emit(scope, "authz_denied", "deny", error.reason)
            raise PermissionDenied(error, is_bearer(scope))
        return get_principal(scope)


__all__ = ("PermissionDenied", "RequirePermission", "permission_denied_handler")
