"""Effective permissions: role grants, community roles, direct permissions, API-key narrowing, caching."""

from __future__ import annotations

import pytest

from asgi_guard.context import GuardContext
from asgi_guard.errors import MissingGuardContext
from asgi_guard.principal import Principal
from asgi_guard.rbac import authorizer as authorizer_module
from asgi_guard.rbac.authorizer import Authorizer, request_matcher
from asgi_guard.testing import make_scope


def test_roles_and_community_roles_combine() -> None:
    """A user who moderates one community gets moderator grants only when acting there."""
    authorizer = Authorizer()
    alice = Principal("alice", roles=frozenset({"user"}))
    assert not authorizer.matcher(alice)("community:moderate")
    assert authorizer.matcher(alice, frozenset({"moderator"}))("community:moderate")
    assert authorizer.matcher(alice, frozenset({"moderator"}))("profile:view")


def test_direct_permissions_add_and_unknown_roles_grant_nothing() -> None:
    """Direct permissions add to role grants; a role the hierarchy lacks grants nothing."""
    authorizer = Authorizer()
    bob = Principal("bob", roles=frozenset({"ghost"}), permissions=frozenset({"report:read"}))
    matcher = authorizer.matcher(bob)
    assert matcher("report:read")
    assert not matcher("profile:view")


def test_api_key_limit_narrows_never_widens() -> None:
    """A key limited to moderation cannot do what its owner cannot, nor more than the limit."""
    authorizer = Authorizer()
    key = Principal(
        "owner", roles=frozenset({"moderator"}), permission_limit=frozenset({"community:*", "module:install"})
    )
    matcher = authorizer.matcher(key)
    assert matcher("community:moderate")
    assert not matcher("module:install")  # the owner (a moderator) lacks it: the key cannot widen
    assert not matcher("profile:view")  # the owner has it, the key does not


def test_compiled_matchers_are_cached_per_combination() -> None:
    """The same role combination yields the same compiled matcher; another combination a new one."""
    authorizer = Authorizer()
    first = authorizer.matcher(Principal("a", roles=frozenset({"user"})))
    again = authorizer.matcher(Principal("b", roles=frozenset({"user"})))
    other = authorizer.matcher(Principal("c", roles=frozenset({"user"})), frozenset({"moderator"}))
    assert first is again
    assert other is not first


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the cache bound, matchers are still correct and the memo never holds more than the bound."""
    monkeypatch.setattr(authorizer_module, "CACHE_LIMIT", 2)
    authorizer = Authorizer()
    principals = [Principal(str(i), roles=frozenset({"user", f"x{i}"})) for i in range(4)]
    matchers = [authorizer.matcher(p) for p in principals]
    assert all(m("profile:view") for m in matchers)
    assert len(authorizer._by_roles) <= 2
    assert authorizer.matcher(principals[3]) is matchers[3]  # the latest stays remembered
    assert authorizer.matcher(principals[0]) is not matchers[0]  # forgotten when the memo filled


def test_request_matcher_needs_the_rbac_middleware() -> None:
    """Endpoint checks without the RBAC middleware raise naming it; without a principal they get None."""
    scope = make_scope()
    with pytest.raises(MissingGuardContext, match="RBACMiddleware"):
        request_matcher(scope)
    GuardContext.from_scope(scope).authorizer = Authorizer()
    assert request_matcher(scope) is None
    GuardContext.from_scope(scope).principal = Principal("p", roles=frozenset({"user"}))
    matcher = request_matcher(scope)
    assert matcher is not None
    assert matcher("profile:edit")


def test_unhashable_collections_are_compiled_not_crashed() -> None:
    """Sets and lists from a custom authentication layer still get correct decisions, uncached."""
    authorizer = Authorizer()
    principal = Principal(
        "odd",
        roles={"moderator"},  # type: ignore[arg-type]
        permissions={"report:read"},  # type: ignore[arg-type]
        permission_limit=["community:*", "report:read"],  # type: ignore[arg-type]
    )
    matcher = authorizer.matcher(principal, ["user"])  # type: ignore[arg-type]
    assert matcher("community:moderate")
    assert matcher("report:read")
    assert not matcher("profile:view")  # outside the limit
    assert authorizer.matcher(Principal("plain", roles={"user"})) is not matcher  # type: ignore[arg-type]
