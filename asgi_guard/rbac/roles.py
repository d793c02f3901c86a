"""Roles and their inheritance: validated and flattened once, at construction."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.rbac.permissions import check_permission

if TYPE_CHECKING:
    from collections.abc import Mapping

_ROLE_NAME: Final = re.compile(r"[A-Za-z0-9_.\-]+")


class Role(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A named bundle of permissions.

    Attributes:
        name: the role name, as it appears in ``Principal.roles`` and community memberships.
        permissions: what the role grants directly (``resource:action``, ``resource:*`` or ``*``).
        inherits: roles whose grants this role also has (a higher role inherits the ones below it).
    """

    name: str
    permissions: tuple[str, ...] = ()
    inherits: tuple[str, ...] = ()


class RoleHierarchy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A set of roles forming a directed acyclic inheritance graph.

    Unknown parents, duplicate names, malformed permissions and cycles raise
    :class:`ConfigurationError` when the hierarchy is built.

    Attributes:
        roles: the roles; order does not matter.
    """

    roles: tuple[Role, ...] = ()

    def __post_init__(self) -> None:
        flatten(self)

    def with_roles(self, *roles: Role) -> RoleHierarchy:
        """A copy with ``roles`` added, each replacing any existing role of the same name."""
        names = {role.name for role in roles}
        return RoleHierarchy(roles=(*(role for role in self.roles if role.name not in names), *roles))

    def without(self, *names: str) -> RoleHierarchy:
        """A copy without the roles called ``names`` (nothing may still inherit from them)."""
        return RoleHierarchy(roles=tuple(role for role in self.roles if role.name not in names))


def flatten(hierarchy: RoleHierarchy) -> dict[str, frozenset[str]]:
    """Each role's full grants (its own plus everything it inherits), checking the hierarchy.

    Raises:
        ConfigurationError: a bad name, duplicate role, malformed permission, unknown parent or cycle.
    """
    by_name: dict[str, Role] = {}
    for index, role in enumerate(hierarchy.roles):
        at = f"RoleHierarchy.roles[{index}]"
        if not isinstance(role, Role):
            raise ConfigurationError.expected("a `Role`", type(role).__name__, at)
        if _ROLE_NAME.fullmatch(role.name) is None:
            raise ConfigurationError.expected("a role name of `[A-Za-z0-9_.-]`", role.name, f"{at}.name")
        if role.name in by_name:
            raise ConfigurationError.expected("unique role names", role.name, f"{at}.name")
        for position, permission in enumerate(role.permissions):
            check_permission(permission, f"{at}.permissions[{position}]")
        by_name[role.name] = role
    for index, role in enumerate(hierarchy.roles):
        for position, parent in enumerate(role.inherits):
            if parent not in by_name:
                raise ConfigurationError.expected(
                    "a defined role", parent, f"RoleHierarchy.roles[{index}].inherits[{position}]"
                )
    flat: dict[str, frozenset[str]] = {}
    for name in by_name:
        _resolve(name, by_name, flat, ())
    return flat


def _resolve(
    name: str, roles: Mapping[str, Role], flat: dict[str, frozenset[str]], path: tuple[str, ...]
) -> frozenset[str]:
    done = flat.get(name)
    if done is not None:
        return done
    if name in path:
        cycle = " -> ".join((*path[path.index(name) :], name))
        raise ConfigurationError.expected("an acyclic role hierarchy", cycle, f"role `{name}`")
    role = roles[name]
    grants = set(role.permissions)
    for parent in role.inherits:
        grants |= _resolve(parent, roles, flat, (*path, name))
    flat[name] = result = frozenset(grants)
    return result


USER: Final = Role(name="user", permissions=("profile:view", "profile:edit"))
MODERATOR: Final = Role(name="moderator", permissions=("community:moderate", "user:manage"), inherits=("user",))
COMMUNITY_OWNER: Final = Role(
    name="community_owner", permissions=("community:*", "module:install", "module:configure"), inherits=("moderator",)
)
ADMIN: Final = Role(name="admin", permissions=("*",), inherits=("community_owner",))

DEFAULT_ROLES: Final = RoleHierarchy(roles=(ADMIN, COMMUNITY_OWNER, MODERATOR, USER))
"""admin ``*`` > community_owner > moderator > user, as in the seed application."""

__all__ = ("ADMIN", "COMMUNITY_OWNER", "DEFAULT_ROLES", "MODERATOR", "USER", "Role", "RoleHierarchy", "flatten")
