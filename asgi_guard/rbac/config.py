"""Configuration of the RBAC layer."""

from __future__ import annotations

from typing import Literal

import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.options import ErrorFormat, check_error_format
from asgi_guard.rbac.policy import RoutePolicy
from asgi_guard.rbac.roles import DEFAULT_ROLES, RoleHierarchy


class RBACConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Roles and route policies.

    Attributes:
        roles: the role hierarchy (:data:`DEFAULT_ROLES` unless reshaped).
        policies: route policies; the first matching rule wins, literal paths before templates.
        default: what unlisted routes get. ``None`` means ``deny`` once ``policies`` is non-empty and
            ``allow`` without a table (endpoint-level checks then do the work).
        shadow: shadow mode for every rule, including the default deny.
        skip_preflight: let CORS preflight requests (``OPTIONS`` with ``Origin`` and
            ``Access-Control-Request-Method``) through so the CORS layer can answer them. Install
            Starlette's ``CORSMiddleware`` outside this layer: a preflight nobody answers reaches the app.
        error_format: ``json`` (``{"error", "detail"}``) or ``problem`` (RFC 9457).
    """

    roles: RoleHierarchy = DEFAULT_ROLES
    policies: tuple[RoutePolicy, ...] = ()
    default: Literal["allow", "deny"] | None = None
    shadow: bool = False
    skip_preflight: bool = True
    error_format: ErrorFormat = "json"

    def __post_init__(self) -> None:
        if not isinstance(self.roles, RoleHierarchy):
            raise ConfigurationError.expected("a `RoleHierarchy`", type(self.roles).__name__, "RBACConfig.roles")
        for index, policy in enumerate(self.policies):
            if not isinstance(policy, RoutePolicy):
                raise ConfigurationError.expected(
                    "a `RoutePolicy`", type(policy).__name__, f"RBACConfig.policies[{index}]"
                )
        if self.default not in (None, "allow", "deny"):
            raise ConfigurationError.expected("`allow`, `deny` or None", self.default, "RBACConfig.default")
        check_error_format(self.error_format, "RBACConfig.error_format")

    @property
    def denies_unlisted(self) -> bool:
        """Whether routes without a policy are refused."""
        return self.default == "deny" if self.default is not None else bool(self.policies)


__all__ = ("RBACConfig",)
