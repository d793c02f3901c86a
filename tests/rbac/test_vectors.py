"""Public casbin RBAC vectors (tests/rbac/vectors.json), translated to asgi_guard's model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import Principal
from asgi_guard.rbac import RBACMiddleware, Role, RoleHierarchy, RoutePolicy
from asgi_guard.rbac.authorizer import Authorizer
from asgi_guard.rbac.config import RBACConfig
from asgi_guard.rbac.permissions import Matcher, check_permission
from asgi_guard.tenancy import TenancyConfig, TenancyMiddleware
from asgi_guard.testing import call, make_scope
from tests.rbac.support import PrincipalFromHeader, Seen, recording_app

pytestmark = pytest.mark.anyio

CASES: dict[str, dict[str, Any]] = {
    case["id"]: case for case in json.loads((Path(__file__).parent / "vectors.json").read_text())["cases"]
}


def parse_policy(csv: str) -> tuple[list[list[str]], list[list[str]]]:
    rows = [[cell.strip() for cell in line.split(",")] for line in csv.splitlines() if line.strip()]
    return [row[1:] for row in rows if row[0] == "p"], [row[1:] for row in rows if row[0] == "g"]


def translate(csv: str) -> tuple[Authorizer, dict[str, Principal]]:
    """Users (subjects that are never a role's name) become principals, the rest roles."""
    policies, groupings = parse_policy(csv)
    role_names = {row[1] for row in groupings} | {row[0] for row in groupings if row[0] in {g[1] for g in groupings}}
    users = {row[0] for row in groupings if row[0] not in role_names} | {
        p[0] for p in policies if p[0] not in role_names
    }
    roles = [
        Role(
            name=name,
            permissions=tuple(f"{obj}:{act}" for sub, obj, act in policies if sub == name),
            inherits=tuple(parent for child, parent in groupings if child == name),
        )
        for name in sorted(role_names)
    ]
    principals = {
        user: Principal(
            user,
            roles=frozenset(parent for child, parent in groupings if child == user),
            permissions=frozenset(f"{obj}:{act}" for sub, obj, act in policies if sub == user),
        )
        for user in users
    }
    return Authorizer(RoleHierarchy(roles=tuple(roles))), principals


@pytest.mark.parametrize("case_id", ["casbin-rbac-basic", "casbin-rbac-hierarchy"])
def test_casbin_rbac_decisions(case_id: str) -> None:
    """Each casbin enforce() decision is reproduced by the compiled matcher."""
    case = CASES[case_id]
    authorizer, principals = translate(case["inputs"]["policy_csv"])
    for (subject, obj, act), expected in zip(case["inputs"]["requests"], case["expected"]["decisions"], strict=True):
        principal = principals.get(subject, Principal(subject))
        assert authorizer.matcher(principal)(f"{obj}:{act}") is expected, (subject, obj, act)


async def test_casbin_domains_through_tenancy_and_rbac() -> None:
    """Per-domain roles become per-community roles; the full stack gives casbin's decisions."""
    case = CASES["casbin-rbac-domains"]
    policies, groupings = parse_policy(case["inputs"]["policy_csv"])
    roles = tuple(
        Role(
            name=f"{role}.{domain}",
            permissions=tuple(f"{o}:{a}" for s, d, o, a in policies if (s, d) == (role, domain)),
        )
        for role, domain in sorted({(s, d) for s, d, _, _ in policies})
    )
    principals = {
        user: Principal(user, communities={domain: frozenset({f"{role}.{domain}"})}, method="jwt")
        for user, role, domain in groupings
    }
    objects = sorted({(o, a) for _, _, o, a in policies})
    rbac = RBACConfig(
        roles=RoleHierarchy(roles=roles),
        policies=tuple(RoutePolicy(path=f"/c/{{community_id}}/{o}/{a}", permissions=(f"{o}:{a}",)) for o, a in objects),
    )
    seen = Seen()
    tenancy = TenancyConfig(
        routes=("/c/{community_id}/{rest:path}",),
        id_pattern="domain[0-9]+",
        community_roles=tuple(role.name for role in roles),
    )
    app = PrincipalFromHeader(TenancyMiddleware(RBACMiddleware(recording_app(seen), rbac), tenancy), principals)
    for (subject, domain, obj, act), expected in zip(
        case["inputs"]["requests"], case["expected"]["decisions"], strict=True
    ):
        response = await call(app, make_scope("GET", f"/c/{domain}/{obj}/{act}", headers={"x-test-user": subject}))
        assert (response.status == 200) is expected, (subject, domain, obj, act, response.json())
        if not expected:
            assert response.json()["error"] in ("community_forbidden", "insufficient_permissions")


def _path_to_permission(path: str) -> str:
    return path.strip("/").replace("/", ":")


def test_casbin_keymatch_prefix_pitfall_cannot_be_configured() -> None:
    """Whole-segment patterns decide like keyMatch; prefix-star patterns are refused outright."""
    case = CASES["casbin-keymatch"]
    pairs, matches = case["inputs"]["pairs_request_pattern"], case["expected"]["matches"]
    checked = 0
    for (request, pattern), casbin in zip(pairs, matches, strict=True):
        if pattern == "/" or (pattern.endswith("*") and not pattern.endswith("/*")):
            with pytest.raises(ConfigurationError):
                check_permission(_path_to_permission(pattern), "pattern")
            continue
        grant = _path_to_permission(pattern)
        assert Matcher(frozenset({grant}))(_path_to_permission(request)) is casbin, (request, pattern)
        checked += 1
    assert checked == 6
