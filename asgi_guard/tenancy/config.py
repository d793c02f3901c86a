"""Configuration of the community-scoping (tenancy) layer."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import msgspec

from asgi_guard._routing import Template
from asgi_guard.errors import ConfigurationError
from asgi_guard.options import ErrorFormat, check_clock, check_error_format

if TYPE_CHECKING:
    from asgi_guard.clock import Clock
    from asgi_guard.tenancy.resolvers import MembershipResolver

DEFAULT_COMMUNITY_ROLES: Final = ("community_owner", "moderator", "user")
"""The roles a membership may carry by default (the seed's per-community roles)."""
GLOBAL_ONLY_ROLES: Final = frozenset({"admin"})
"""Roles never held inside one community (besides the configured ``admin_roles``)."""
_ROLE_NAME: Final = re.compile(r"[A-Za-z0-9_.\-]+")


class TenancyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which routes are scoped to a community, how the id is read, and how membership is decided.

    Attributes:
        routes: path templates (any method) that require a community, for example
            ``/api/v1/communities/{community_id}/{rest:path}`` or ``/api/v1/modules``.
        header: the request header carrying the id (lower case).
        path_param: the template parameter carrying the id; when a route has it, the id comes from
            the path and a header, if also sent, must agree (400 ``invalid_community_id`` otherwise).
        id_pattern: what a valid id looks like (full match); positive integers without leading
            zeros by default, so one community has exactly one spelling.
        resolver: an async ``(principal, community_id) -> roles | None``; ``None`` reads membership
            from the credential (``Principal.communities``). When given, it is authoritative.
        cache_ttl: seconds the resolver's answers are cached (``0`` disables the cache).
        cache_size: the bound on cached answers.
        clock: time source of the cache (``None``: the system clock).
        admin_roles: global roles that may enter any community (the override is logged).
        community_roles: the only role names a membership may carry (from claims or the resolver);
            a membership naming any other role is refused (403 ``community_forbidden`` and a
            security event), so a resolver or a token cannot hand out a global role such as
            ``admin`` inside one community. Global-only roles (``admin`` and ``admin_roles``) are a
            configuration error here.
        skip_preflight: let CORS preflight requests through (unscoped: the CORS layer answers them).
        error_format: ``json`` or ``problem`` (RFC 9457).
    """

    routes: tuple[str, ...]
    header: str = "x-community-id"
    path_param: str = "community_id"
    id_pattern: str = r"[1-9][0-9]{0,18}"
    resolver: MembershipResolver | None = None
    cache_ttl: float = 60.0
    cache_size: int = 10_000
    clock: Clock | None = None
    admin_roles: tuple[str, ...] = ("admin",)
    community_roles: tuple[str, ...] = DEFAULT_COMMUNITY_ROLES
    skip_preflight: bool = True
    error_format: ErrorFormat = "json"

    def __post_init__(self) -> None:
        if not self.routes:
            raise ConfigurationError.expected("at least one route template", self.routes, "TenancyConfig.routes")
        for index, route in enumerate(self.routes):
            try:
                Template(route)
            except ConfigurationError as exc:
                raise ConfigurationError.expected("a path template", route, f"TenancyConfig.routes[{index}]") from exc
        if not self.header or self.header != self.header.lower() or not self.header.isascii():
            raise ConfigurationError.expected("a lower-case ASCII header name", self.header, "TenancyConfig.header")
        try:
            pattern = re.compile(self.id_pattern)
        except re.error as exc:
            raise ConfigurationError.expected(
                "a regular expression", self.id_pattern, "TenancyConfig.id_pattern"
            ) from exc
        if pattern.fullmatch(""):
            raise ConfigurationError.expected("a pattern rejecting ``", self.id_pattern, "TenancyConfig.id_pattern")
        if self.resolver is not None and not callable(self.resolver):
            raise ConfigurationError.expected("an async callable", self.resolver, "TenancyConfig.resolver")
        if self.cache_ttl < 0:
            raise ConfigurationError.expected("`cache_ttl` >= 0", self.cache_ttl, "TenancyConfig.cache_ttl")
        if self.cache_size < 1:
            raise ConfigurationError.expected("`cache_size` >= 1", self.cache_size, "TenancyConfig.cache_size")
        check_error_format(self.error_format, "TenancyConfig.error_format")
        check_clock(self.clock, "TenancyConfig.clock")
        global_only = {*GLOBAL_ONLY_ROLES, *self.admin_roles}
        for index, role in enumerate(self.community_roles):
            at = f"TenancyConfig.community_roles[{index}]"
            if not isinstance(role, str) or _ROLE_NAME.fullmatch(role) is None:
                raise ConfigurationError.expected("a role name of `[A-Za-z0-9_.-]`", role, at)
            if role in global_only:
                raise ConfigurationError.expected(
                    f"a community role (not a global-only role: {sorted(global_only)})", role, at
                )


__all__ = ("DEFAULT_COMMUNITY_ROLES", "GLOBAL_ONLY_ROLES", "TenancyConfig")
