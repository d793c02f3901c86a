"""Property tests: the compiled matcher agrees with a plain reference implementation."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import Principal
from asgi_guard.rbac.authorizer import Authorizer
from asgi_guard.rbac.roles import Role, RoleHierarchy

RESOURCES = ("community", "communityx", "module", "profile", "c")
ACTIONS = ("moderate", "ban", "install", "view")
GRANTS = st.one_of(
    st.just("*"),
    st.builds(lambda r, a: f"{r}:{a}", st.sampled_from(RESOURCES), st.sampled_from((*ACTIONS, "*"))),
)
REQUIRED = st.one_of(
    GRANTS,
    st.sampled_from(("community", "community:", ":ban", "community:ban:x", "authenticated", "communityx", "c:*:*")),
)
ROLE_NAMES = tuple(f"r{i}" for i in range(8))
_ALLOWED = set(string.ascii_letters + string.digits + "_.-")


def ref_covers(grant: str, required: str) -> bool:
    """Plain reading of the rules: `*` covers all, `res:*` covers `res:<one segment>`, else equality."""
    if grant == "*" or grant == required:
        return True
    if not grant.endswith(":*"):
        return False
    parts = required.split(":")
    if len(parts) != 2 or parts[0] != grant[:-2]:
        return False
    return parts[1] == "*" or (parts[1] != "" and set(parts[1]) <= _ALLOWED)


def ref_closure(roles: dict[str, Role], start: frozenset[str]) -> set[str]:
    """Breadth-first inheritance walk collecting every grant reachable from `start`."""
    grants: set[str] = set()
    seen: set[str] = set()
    queue = [name for name in start if name in roles]
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        grants.update(roles[name].permissions)
        queue.extend(roles[name].inherits)
    return grants


def ref_allowed(roles: dict[str, Role], principal: Principal, community_roles: frozenset[str], required: str) -> bool:
    if required == "authenticated":  # Starlette's conventional scope: every principal has it
        return True
    grants = ref_closure(roles, principal.roles | community_roles) | set(principal.permissions)
    if not any(ref_covers(grant, required) for grant in grants):
        return False
    limit = principal.permission_limit
    return limit is None or any(ref_covers(grant, required) for grant in limit)


@st.composite
def hierarchies(draw: st.DrawFn) -> list[Role]:
    """Random acyclic hierarchies: a role only inherits from roles drawn before it."""
    count = draw(st.integers(1, len(ROLE_NAMES)))
    roles = []
    for index in range(count):
        parents = draw(st.lists(st.sampled_from(ROLE_NAMES[:index]), unique=True, max_size=3)) if index else []
        permissions = draw(st.lists(GRANTS, max_size=3, unique=True))
        roles.append(Role(name=ROLE_NAMES[index], permissions=tuple(permissions), inherits=tuple(parents)))
    return draw(st.permutations(roles))


ROLE_SETS = st.frozensets(st.sampled_from((*ROLE_NAMES, "ghost")), max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    roles=hierarchies(),
    principal_roles=ROLE_SETS,
    community_roles=ROLE_SETS,
    direct=st.frozensets(GRANTS, max_size=2),
    limit=st.one_of(st.none(), st.frozensets(GRANTS, max_size=3)),
    required=st.lists(REQUIRED, min_size=1, max_size=6),
)
def test_compiled_matcher_agrees_with_reference(
    roles: list[Role],
    principal_roles: frozenset[str],
    community_roles: frozenset[str],
    direct: frozenset[str],
    limit: frozenset[str] | None,
    required: list[str],
) -> None:
    """For random hierarchies, principals and requests, the cached matcher decides like the reference."""
    authorizer = Authorizer(RoleHierarchy(roles=tuple(roles)))
    principal = Principal("p", roles=principal_roles, permissions=direct, permission_limit=limit)
    by_name = {role.name: role for role in roles}
    for permission in required:
        expected = ref_allowed(by_name, principal, community_roles, permission)
        assert authorizer.matcher(principal, community_roles)(permission) is expected, permission
        # the cached matcher answers again identically
        assert authorizer.matcher(principal, community_roles)(permission) is expected


def has_cycle(edges: dict[str, tuple[str, ...]]) -> bool:
    """Kahn's algorithm: a graph is cyclic when some node never reaches in-degree zero."""
    indegree = dict.fromkeys(edges, 0)
    for parents in edges.values():
        for parent in parents:
            indegree[parent] += 1
    ready = [name for name, degree in indegree.items() if degree == 0]
    removed = 0
    while ready:
        name = ready.pop()
        removed += 1
        for parent in edges[name]:
            indegree[parent] -= 1
            if indegree[parent] == 0:
                ready.append(parent)
    return removed != len(edges)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            *(st.lists(st.sampled_from(ROLE_NAMES[:n]), unique=True, max_size=3).map(tuple) for _ in range(n))
        )
    )
)
def test_cycles_are_always_refused(parents: tuple[tuple[str, ...], ...]) -> None:
    """Any inheritance graph is accepted exactly when it is acyclic."""
    edges = {ROLE_NAMES[i]: parents[i] for i in range(len(parents))}
    roles = tuple(Role(name=name, inherits=inherits) for name, inherits in edges.items())
    if has_cycle(edges):
        with pytest.raises(ConfigurationError, match="acyclic"):
            RoleHierarchy(roles=roles)
    else:
        RoleHierarchy(roles=roles)
