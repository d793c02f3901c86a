"""Role hierarchy: defaults, reshaping, and construction-time errors."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_guard.errors import ConfigurationError
from asgi_guard.rbac.roles import DEFAULT_ROLES, Role, RoleHierarchy, flatten


def test_default_hierarchy_inherits_downwards() -> None:
    """Each default role has its own grants plus everything below it."""
    flat = flatten(DEFAULT_ROLES)
    assert flat["user"] == {"profile:view", "profile:edit"}
    assert flat["moderator"] == {"community:moderate", "user:manage", "profile:view", "profile:edit"}
    assert flat["community_owner"] == flat["moderator"] | {"community:*", "module:install", "module:configure"}
    assert flat["admin"] == flat["community_owner"] | {"*"}


def test_with_roles_adds_and_replaces() -> None:
    """`with_roles` adds new roles and replaces same-name roles, keeping the rest."""
    reshaped = DEFAULT_ROLES.with_roles(
        Role(name="auditor", permissions=("audit:read",), inherits=("user",)),
        Role(name="moderator", permissions=("community:moderate",)),
    )
    flat = flatten(reshaped)
    assert flat["auditor"] == {"audit:read", "profile:view", "profile:edit"}
    assert flat["moderator"] == {"community:moderate"}
    assert "user:manage" not in flat["admin"]


def test_without_removes_leaf_roles_and_refuses_dangling_parents() -> None:
    """Removing a role nothing inherits works; removing a parent raises."""
    assert "admin" not in flatten(DEFAULT_ROLES.without("admin"))
    with pytest.raises(ConfigurationError, match="a defined role, got 'user'"):
        DEFAULT_ROLES.without("user")


def test_diamond_inheritance_is_allowed() -> None:
    """A role may inherit from several parents sharing an ancestor."""
    hierarchy = RoleHierarchy(
        roles=(
            Role(name="base", permissions=("a:x",)),
            Role(name="left", permissions=("b:x",), inherits=("base",)),
            Role(name="right", permissions=("c:x",), inherits=("base",)),
            Role(name="top", inherits=("left", "right")),
        )
    )
    assert flatten(hierarchy)["top"] == {"a:x", "b:x", "c:x"}


BAD: list[tuple[tuple[Any, ...], str]] = [
    ((Role(name="a", inherits=("b",)), Role(name="b", inherits=("a",))), "acyclic role hierarchy, got 'a -> b -> a'"),
    ((Role(name="a", inherits=("a",)),), "got 'a -> a'"),
    (
        (Role(name="a", inherits=("b",)), Role(name="b", inherits=("c",)), Role(name="c", inherits=("b",))),
        "b -> c -> b",
    ),
    ((Role(name="a"), Role(name="a")), "unique role names"),
    ((Role(name="bad name"),), "role name"),
    ((Role(name="a", permissions=("community",)),), "roles\\[0\\].permissions\\[0\\]"),
    ((Role(name="a", inherits=("ghost",)),), "a defined role, got 'ghost'"),
    (("admin",), "a `Role`"),
]


@pytest.mark.parametrize(("roles", "message"), BAD)
def test_bad_hierarchies_raise_at_construction(roles: tuple[Any, ...], message: str) -> None:
    """Cycles, duplicates, bad names, malformed permissions and unknown parents are configuration errors."""
    with pytest.raises(ConfigurationError, match=message):
        RoleHierarchy(roles=roles)
