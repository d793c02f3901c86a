"""Route policies: which permissions a (method, path template) needs, compiled once."""

from __future__ import annotations

from typing import Literal

import msgspec

from asgi_guard._routing import Template
from asgi_guard.errors import ConfigurationError
from asgi_guard.rbac.permissions import check_requirement

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "*"})


class RoutePolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a route requires.

    Attributes:
        path: a path template in Starlette syntax, matched on the route path (``root_path`` removed),
            for example ``/api/v1/communities/{community_id}/modules``.
        permissions: the required permissions. Empty means any authenticated principal.
        methods: HTTP methods (upper case) or ``*`` for any; ``GET`` also covers ``HEAD``.
            Websocket handshakes match as ``GET``.
        mode: ``all`` (every permission) or ``any`` (at least one).
        public: no principal and no permission needed (health checks, login).
        shadow: log the would-be denial as a security event and let the request through.
    """

    path: str
    permissions: tuple[str, ...] = ()
    methods: tuple[str, ...] = ("*",)
    mode: Literal["all", "any"] = "all"
    public: bool = False
    shadow: bool = False

    def __post_init__(self) -> None:
        Template(self.path)  # raises ConfigurationError on a bad template
        if not self.methods:
            raise ConfigurationError.expected("at least one method", self.methods, f"RoutePolicy({self.path}).methods")
        for index, method in enumerate(self.methods):
            if method not in _METHODS:
                raise ConfigurationError.expected(
                    "an upper-case HTTP method or `*`", method, f"RoutePolicy({self.path}).methods[{index}]"
                )
        for index, permission in enumerate(self.permissions):
            check_requirement(permission, f"RoutePolicy({self.path}).permissions[{index}]")
        if self.mode not in ("all", "any"):
            raise ConfigurationError.expected("`all` or `any`", self.mode, f"RoutePolicy({self.path}).mode")
        if self.public and self.permissions:
            raise ConfigurationError.expected(
                "no permissions on a public route", self.permissions, f"RoutePolicy({self.path}).permissions"
            )


class Rule:
    """A policy compiled for the hot path."""

    __slots__ = ("any_of", "deny", "label", "permissions", "public", "shadow")

    def __init__(
        self,
        permissions: tuple[str, ...],
        *,
        any_of: bool = False,
        public: bool = False,
        deny: bool = False,
        shadow: bool = False,
        label: str,
    ) -> None:
        """``deny`` refuses every principal (the default rule for unlisted routes)."""
        self.permissions = permissions
        self.any_of = any_of
        self.public = public
        self.deny = deny
        self.shadow = shadow
        self.label = label

    @staticmethod
    def methods_of(policy: RoutePolicy) -> tuple[str, ...]:
        """The methods a policy covers: ``GET`` also covers ``HEAD``, which Starlette routes to the GET
        endpoint (otherwise a HEAD request could run a GET handler under the unlisted-route default)."""
        if "GET" in policy.methods and "HEAD" not in policy.methods:
            return (*policy.methods, "HEAD")
        return policy.methods

    @classmethod
    def of(cls, policy: RoutePolicy, shadow: bool = False) -> Rule:
        """Compile ``policy``; ``shadow`` forces shadow mode (the config-wide switch)."""
        return cls(
            policy.permissions,
            any_of=policy.mode == "any",
            public=policy.public,
            shadow=policy.shadow or shadow,
            label=f"{','.join(policy.methods)} {policy.path}",
        )


__all__ = ("RoutePolicy", "Rule")
