"""A FastAPI dependency enforcing permissions on one route (built on Starlette only: FastAPI stays optional)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection  # noqa: TC002 - FastAPI reads the annotation at runtime
from starlette.responses import Response

from asgi_guard._responses import EVENT_TYPE, challenge, render_body
from asgi_guard.context import get_principal
from asgi_guard.errors import DETAIL, GuardError
from asgi_guard.events.emit import emit
from asgi_guard.rbac.endpoint import Requirement, is_bearer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from asgi_guard.principal import Principal


class PermissionDenied(HTTPException):
    """A refusal raised by the dependency :func:`permission_dependency` builds.

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


def permission_dependency(
    *permissions: str, mode: Literal["all", "any"] = "all"
) -> Callable[[HTTPConnection], Awaitable[Principal]]:
    """``Depends(permission_dependency("community:moderate"))``: refuses callers lacking the permissions.

    The dependency's value is the :class:`Principal`, so it doubles as "the current user". A plain
    function (not a callable object) so FastAPI can resolve its postponed annotations.

    Args:
        permissions: required permissions.
        mode: ``all`` (every one) or ``any`` (at least one).

    Raises:
        ConfigurationError: a malformed permission (at declaration).
    """
    requirement = Requirement(permissions, mode)

    async def require_permission(connection: HTTPConnection) -> Principal:
        scope = connection.scope
        error = requirement.denial(scope)
        if error is not None:
            emit(scope, EVENT_TYPE[error.code], "deny", error.reason)
            raise PermissionDenied(error, is_bearer(scope))
        return get_principal(scope)

    return require_permission


__all__ = ("PermissionDenied", "permission_denied_handler", "permission_dependency")
