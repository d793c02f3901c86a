"""Permission grammar, coverage and narrowing, and the compiled matcher."""

from __future__ import annotations

import pytest

from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import GuardCredentials
from asgi_guard.rbac.permissions import (
    AUTHENTICATED,
    Matcher,
    check_permission,
    check_requirement,
    is_permission,
    narrow,
)

VALID = ("*", "community:moderate", "community:*", "a.b-c_d:x.y-z_1", "R:A")
INVALID = (
    "",
    "community",
    "community:",
    ":moderate",
    "community:*:x",
    "community*",
    "*:read",
    "a b:c",
    "a:b c",
    7,
    None,
)


@pytest.mark.parametrize("text", VALID)
def test_valid_permissions_are_accepted(text: str) -> None:
    """Well-formed permissions pass the grammar and the construction-time check."""
    assert is_permission(text)
    assert check_permission(text, "here") == text


@pytest.mark.parametrize("text", INVALID)
def test_malformed_permissions_raise_at_construction(text: object) -> None:
    """Malformed permissions are refused with a message naming what and where."""
    assert not is_permission(text)
    with pytest.raises(ConfigurationError, match="- at `roles\\[0\\]`"):
        check_permission(text, "roles[0]")


def test_authenticated_is_a_requirement_but_not_a_grant() -> None:
    """`authenticated` may be required (any principal) but is not a grantable permission."""
    assert check_requirement(AUTHENTICATED, "x") == AUTHENTICATED
    assert check_requirement("user:manage", "x") == "user:manage"
    with pytest.raises(ConfigurationError):
        check_permission(AUTHENTICATED, "x")


COVERAGE = [
    # (grants, required, expected)
    ({"community:moderate"}, "community:moderate", True),
    ({"community:moderate"}, "community:delete", False),
    ({"community:*"}, "community:delete", True),
    ({"community:*"}, "community:*", True),
    ({"community:*"}, "communityx:moderate", False),  # whole segment, not a prefix (casbin keyMatch pitfall)
    ({"community:*"}, "community", False),
    ({"community:*"}, "community:", False),
    ({"community:moderate"}, "community:*", False),
    ({"*"}, "anything:at_all", True),
    ({"*"}, "*", True),
    ({"community:*"}, "*", False),
    (set(), "authenticated", True),
    (set(), "profile:view", False),
    ({"legacy"}, "legacy", True),  # a direct grant outside the grammar only matches itself
]


@pytest.mark.parametrize(("grants", "required", "expected"), COVERAGE)
def test_matcher_coverage(grants: set[str], required: str, expected: bool) -> None:
    """The matcher grants exactly what the wildcard rules say, and answers the same when asked again."""
    matcher = Matcher(frozenset(grants))
    assert matcher(required) is expected
    assert matcher(required) is expected  # memoised answer


def test_matcher_memo_is_bounded() -> None:
    """Past the memo bound, answers stay correct without growing the memo."""
    matcher = Matcher(frozenset({"r:*"}))
    for index in range(5000):
        assert matcher(f"r:a{index}")
    assert matcher("s:x") is False


def test_allows_all_and_any() -> None:
    """`all` needs every permission, `any` at least one, and an empty list is satisfied."""
    matcher = Matcher(frozenset({"a:x"}))
    assert matcher.allows(("a:x",))
    assert not matcher.allows(("a:x", "b:y"))
    assert matcher.allows(("b:y", "a:x"), any_of=True)
    assert not matcher.allows(("b:y", "c:z"), any_of=True)
    assert matcher.allows(())
    assert matcher.allows((), any_of=True)


def test_matcher_credentials_work_for_starlette_scopes() -> None:
    """Credentials answer Starlette-style `in` checks through the matcher; each request gets its own."""
    matcher = Matcher(frozenset({"community:*"}))
    credentials = matcher.credentials()
    assert isinstance(credentials, GuardCredentials)
    assert "community:ban" in credentials.scopes
    assert "module:install" not in credentials.scopes
    assert "authenticated" in credentials.scopes
    assert matcher.credentials() is not credentials
    assert matcher.credentials().scopes is credentials.scopes  # one shared read-only view
    assert repr(matcher) == "Matcher(['community:*'])"


NARROW = [
    # (granted, limit, permissions that must be allowed, permissions that must be refused)
    ({"*"}, {"community:moderate"}, ["community:moderate"], ["community:ban", "profile:view"]),
    ({"community:moderate"}, {"*"}, ["community:moderate"], ["community:ban"]),
    ({"community:*"}, {"community:ban", "module:install"}, ["community:ban"], ["module:install", "community:x"]),
    ({"community:ban"}, {"community:*"}, ["community:ban"], ["community:moderate"]),
    ({"a:x"}, set(), [], ["a:x"]),
    ({"a:*", "b:y"}, {"a:*", "b:*"}, ["a:q", "b:y"], ["b:z"]),
]


@pytest.mark.parametrize(("granted", "limit", "allowed", "refused"), NARROW)
def test_narrowing_never_widens(granted: set[str], limit: set[str], allowed: list[str], refused: list[str]) -> None:
    """A limit keeps only what both the grants and the limit allow."""
    matcher = Matcher(narrow(frozenset(granted), frozenset(limit)))
    for permission in allowed:
        assert matcher(permission), permission
    for permission in refused:
        assert not matcher(permission), permission
