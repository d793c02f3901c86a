"""Property: no non-admin principal ever reaches a community it is not a member of."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard.principal import Principal
from asgi_guard.tenancy import StaticMembership, TenancyConfig, TenancyMiddleware
from asgi_guard.testing import call, make_scope
from tests.rbac.support import PrincipalFromHeader, Seen, recording_app

pytestmark = pytest.mark.anyio

VALID_IDS = ("1", "2", "3", "42")
ID_TEXT = st.one_of(
    st.sampled_from(VALID_IDS),
    st.sampled_from(("0", "01", "-1", "1 ", " 1", "1.0", "abc", "", "2,3", "99999999999999999999", "%31")),
    st.text(alphabet=st.characters(codec="ascii", exclude_characters="/?#"), max_size=4),
)
ROLES = st.frozensets(st.sampled_from(("user", "moderator", "community_owner")), max_size=2)
MEMBERSHIPS = st.dictionaries(st.sampled_from(VALID_IDS), ROLES, max_size=3)
ROUTES = ("/c/{community_id}/{rest:path}", "/items")


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """A path on a scoped or unscoped route with zero, one or two community headers."""
    kind = draw(st.sampled_from(("path", "header", "unscoped")))
    path = {"path": f"/c/{draw(ID_TEXT)}/x", "header": "/items", "unscoped": "/other"}[kind]
    headers = [("x-community-id", value) for value in draw(st.lists(ID_TEXT, max_size=2))]
    return path, headers


@settings(max_examples=300, deadline=None)
@given(
    global_roles=st.frozensets(st.sampled_from(("user", "moderator", "admin", "staff")), max_size=2),
    claims=MEMBERSHIPS,
    directory=st.one_of(st.none(), MEMBERSHIPS),
    admin_roles=st.sampled_from((("admin",), ("admin", "staff"), ())),
    request=requests(),
)
async def test_no_principal_reaches_a_community_it_is_not_a_member_of(
    global_roles: frozenset[str],
    claims: dict[str, frozenset[str]],
    directory: dict[str, frozenset[str]] | None,
    admin_roles: tuple[str, ...],
    request: tuple[str, list[tuple[str, str]]],
) -> None:
    """Whatever the path and headers, the app only sees checked communities the principal belongs to."""
    principal = Principal("p", roles=global_roles, communities=claims)
    resolver = StaticMembership({"p": directory}) if directory is not None else None
    members = directory if directory is not None else claims
    config = TenancyConfig(routes=ROUTES, resolver=resolver, admin_roles=admin_roles)
    seen = Seen()
    app = PrincipalFromHeader(TenancyMiddleware(recording_app(seen), config), {"p": principal})
    path, headers = request
    response = await call(app, make_scope("GET", path, headers=[*headers, ("x-test-user", "p")]))
    if not seen.calls:
        assert response.status in (400, 403)
        return
    community: Any = seen.calls[0]["community_id"]
    # `/c//x` matches no template (a parameter is one non-empty segment), as in the app's own router
    scoped = path == "/items" or (path.startswith("/c/") and path.split("/")[2] != "")
    if not scoped:
        assert community is None
        return
    is_admin = bool(global_roles & set(admin_roles))
    assert community is not None
    assert is_admin or community in members
    if not is_admin:
        assert seen.calls[0]["community_roles"] == members[community]
    named = path.split("/")[2] if path.startswith("/c/") else headers[0][1]
    assert community == named  # the id the client named, never another one
    assert all(value == community for _, value in headers)  # a header, if sent, agrees
