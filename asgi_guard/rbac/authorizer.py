"""Effective permissions of a request, compiled once per distinct role set.

Effective permissions = grants of (``principal.roles`` plus the community roles tenancy resolved) plus
``principal.permissions``, narrowed to ``principal.permission_limit`` when it is set (an API key narrows,
never widens, what its owner may do). Every distinct combination is compiled into a :class:`Matcher`
once; a request then costs a few dict lookups keyed by the principal's frozensets (whose hashes Python
caches), with no allocation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from asgi_guard._memo import Memo
from asgi_guard.context import context_of
from asgi_guard.errors import MissingGuardContext
from asgi_guard.principal import GuardCredentials
from asgi_guard.rbac.permissions import Matcher, narrow
from asgi_guard.rbac.roles import DEFAULT_ROLES, RoleHierarchy, flatten

if TYPE_CHECKING:
    from asgi_guard.principal import Principal
    from asgi_guard.types import Scope

CACHE_LIMIT: Final = 4096
"""Compiled combinations remembered (forgotten all at once when full: role sets come from signed
credentials, but stay bounded regardless)."""

_EMPTY: Final[frozenset[str]] = frozenset()


class Authorizer:
    """Compiles role sets into matchers and caches them.

    Args:
        roles: the role hierarchy. Role names a principal carries but the hierarchy does not define
            grant nothing (fail closed).
    """

    __slots__ = ("_by_roles", "_grants", "roles")

    def __init__(self, roles: RoleHierarchy = DEFAULT_ROLES) -> None:
        self.roles = roles
        self._grants = flatten(roles)
        # (roles, community roles, direct permissions, limit) -> matcher
        self._by_roles: Memo[tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str] | None], Matcher] = (
            Memo(CACHE_LIMIT)
        )

    def grants_of(self, roles: frozenset[str]) -> frozenset[str]:
        """Everything ``roles`` grant together (unknown names contribute nothing)."""
        grants: set[str] = set()
        for name in roles:
            grants |= self._grants.get(name, _EMPTY)
        return frozenset(grants)

    def compile(
        self,
        roles: frozenset[str],
        permissions: frozenset[str] = _EMPTY,
        limit: frozenset[str] | None = None,
    ) -> Matcher:
        """A fresh matcher for one combination (uncached: use :meth:`matcher` on the hot path)."""
        granted = self.grants_of(roles) | permissions
        return Matcher(granted if limit is None else narrow(granted, limit))

    def matcher(self, principal: Principal, community_roles: frozenset[str] = _EMPTY) -> Matcher:
        """The cached matcher of ``principal`` acting with ``community_roles``.

        Role and permission collections that are not hashable (a ``set`` from a custom
        authentication layer) are compiled per request instead of failing the request.
        """
        try:
            return self._cached(principal, community_roles)
        except TypeError:
            limit = principal.permission_limit
            return self.compile(
                frozenset(principal.roles) | frozenset(community_roles),
                frozenset(principal.permissions),
                None if limit is None else frozenset(limit),
            )

    def credentials(self, principal: Principal, community_roles: frozenset[str] = _EMPTY) -> GuardCredentials:
        """Fresh ``scope["auth"]`` credentials of ``principal`` (with ``community_roles``) that can be
        expanded later with the roles of the request's community."""
        return GuardCredentials(
            expand=lambda roles: self.credentials(principal, community_roles | roles),
            resolve=lambda: self.matcher(principal, community_roles).permissions,
        )

    def _cached(self, principal: Principal, community_roles: frozenset[str]) -> Matcher:
        key = (principal.roles, community_roles, principal.permissions, principal.permission_limit)
        found = self._by_roles.get(key)
        if found is None:
            compiled = self.compile(
                principal.roles | community_roles, principal.permissions, principal.permission_limit
            )
            found = self._by_roles.put(key, compiled)
        return found


def request_matcher(scope: Scope) -> Matcher | None:
    """The matcher of the request's principal, from the authorizer :class:`RBACMiddleware` installed.

    Returns ``None`` when there is no principal.

    Raises:
        MissingGuardContext: no RBAC middleware ran for this request.
    """
    ctx = context_of(scope)
    authorizer = ctx.authorizer if ctx is not None else None
    if not isinstance(authorizer, Authorizer):
        raise MissingGuardContext(
            "No asgi_guard RBAC on this request: install asgi_guard.RBACMiddleware (or RBACConfig in guard(...)) "
            "in front of endpoints using requires_permission"
        )
    if ctx is None or ctx.principal is None:
        return None
    return authorizer.matcher(ctx.principal, ctx.community_roles)


__all__ = ("CACHE_LIMIT", "Authorizer", "request_matcher")
