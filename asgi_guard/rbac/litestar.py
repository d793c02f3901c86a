"""A Litestar guard enforcing permissions on a handler, router or app (Litestar is optional)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from asgi_guard._responses import EVENT_TYPE, challenge
from asgi_guard.errors import DETAIL, ErrorCode
from asgi_guard.events.emit import emit
from asgi_guard.rbac.endpoint import Requirement, is_bearer

if TYPE_CHECKING:
    from collections.abc import Callable

    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler


def permission_guard(
    *permissions: str, mode: Literal["all", "any"] = "all"
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """A guard for ``guards=[permission_guard("module:install")]``.

    Raises ``NotAuthorizedException`` (401) without a principal and ``PermissionDeniedException``
    (403) when a permission is missing, with the ``WWW-Authenticate`` challenge of RFC 6750.
    """
    requirement = Requirement(permissions, mode)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        scope: Any = connection.scope
        error = requirement.denial(scope)
        if error is None:
            return
        emit(scope, EVENT_TYPE[error.code], "deny", error.reason)
        value = challenge(error.code, bearer=is_bearer(scope))
        headers = {"WWW-Authenticate": value.decode()} if value is not None else None
        if error.code is ErrorCode.MISSING_CREDENTIALS:
            raise NotAuthorizedException(detail=DETAIL[error.code], headers=headers)
        raise PermissionDeniedException(detail=DETAIL[error.code], headers=headers)

    return guard


__all__ = ("permission_guard",)
