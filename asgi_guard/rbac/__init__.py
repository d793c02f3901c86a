"""Role-based access control: roles with inheritance, compiled route policies, endpoint checks.

``permission_guard`` (Litestar) is imported on first use so Litestar stays optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgi_guard.rbac.authorizer import Authorizer, request_matcher
from asgi_guard.rbac.config import RBACConfig
from asgi_guard.rbac.endpoint import Requirement, requires_permission
from asgi_guard.rbac.fastapi import PermissionDenied, permission_denied_handler, permission_dependency
from asgi_guard.rbac.middleware import RBACMiddleware
from asgi_guard.rbac.permissions import ALL, AUTHENTICATED, Matcher, is_permission
from asgi_guard.rbac.policy import RoutePolicy
from asgi_guard.rbac.roles import ADMIN, COMMUNITY_OWNER, DEFAULT_ROLES, MODERATOR, USER, Role, RoleHierarchy

if TYPE_CHECKING:
    from asgi_guard.rbac.litestar import permission_guard


def __getattr__(name: str) -> Any:
    if name == "permission_guard":
        from asgi_guard.rbac.litestar import permission_guard

        return permission_guard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = (
    "ADMIN",
    "ALL",
    "AUTHENTICATED",
    "COMMUNITY_OWNER",
    "DEFAULT_ROLES",
    "MODERATOR",
    "USER",
    "Authorizer",
    "Matcher",
    "PermissionDenied",
    "RBACConfig",
    "RBACMiddleware",
    "Requirement",
    "Role",
    "RoleHierarchy",
    "RoutePolicy",
    "is_permission",
    "permission_denied_handler",
    "permission_dependency",
    "permission_guard",
    "request_matcher",
    "requires_permission",
)
