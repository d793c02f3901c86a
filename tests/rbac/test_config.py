"""RBACConfig and RoutePolicy: construction-time validation."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from asgi_guard.errors import ConfigurationError
from asgi_guard.rbac import DEFAULT_ROLES, RBACConfig, RoutePolicy
from asgi_guard.rbac.policy import Rule

BAD_POLICIES: list[tuple[dict[str, Any], str]] = [
    ({"path": "no-slash"}, "path template starting with `/`"),
    ({"path": "/a", "methods": ()}, "at least one method"),
    ({"path": "/a", "methods": ("get",)}, "upper-case HTTP method"),
    ({"path": "/a", "permissions": ("community",)}, "RoutePolicy\\(/a\\).permissions\\[0\\]"),
    ({"path": "/a", "mode": "some"}, "`all` or `any`"),
    ({"path": "/a", "public": True, "permissions": ("a:b",)}, "no permissions on a public route"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_POLICIES)
def test_bad_route_policies_raise(kwargs: dict[str, Any], message: str) -> None:
    """Malformed templates, methods, permissions and modes are configuration errors."""
    with pytest.raises(ConfigurationError, match=message):
        RoutePolicy(**kwargs)


BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({"roles": "admin"}, "a `RoleHierarchy`"),
    ({"policies": ("/a",)}, "RBACConfig.policies\\[0\\]"),
    ({"default": "maybe"}, "`allow`, `deny` or None"),
    ({"error_format": "xml"}, "`json` or `problem`"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_CONFIGS)
def test_bad_configs_raise(kwargs: dict[str, Any], message: str) -> None:
    """Wrong types and values in RBACConfig are configuration errors naming the field."""
    with pytest.raises(ConfigurationError, match=message):
        RBACConfig(**kwargs)


def test_defaults_and_deny_unlisted() -> None:
    """Unlisted routes are allowed without a table and denied with one unless told otherwise."""
    assert RBACConfig().roles == DEFAULT_ROLES
    assert not RBACConfig().denies_unlisted
    assert RBACConfig(policies=(RoutePolicy(path="/a"),)).denies_unlisted
    assert not RBACConfig(policies=(RoutePolicy(path="/a"),), default="allow").denies_unlisted
    assert RBACConfig(default="deny").denies_unlisted


def test_config_loads_from_mapping_with_typed_errors() -> None:
    """A config decoded from data validates the same way (unknown fields refused)."""
    config = msgspec.convert(
        {"policies": [{"path": "/a/{id}", "permissions": ["a:read"], "methods": ["GET"]}], "default": "deny"},
        RBACConfig,
    )
    assert config.policies[0].permissions == ("a:read",)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"policy": []}, RBACConfig)
    with pytest.raises(msgspec.ValidationError, match="permissions"):
        msgspec.convert({"policies": [{"path": "/a", "permissions": ["bad"]}]}, RBACConfig)


def test_rule_compilation_carries_shadow_and_label() -> None:
    """A compiled rule keeps the policy's meaning and takes the config-wide shadow switch."""
    rule = Rule.of(RoutePolicy(path="/a", methods=("GET", "POST"), permissions=("a:b",), mode="any"), shadow=True)
    assert (rule.permissions, rule.any_of, rule.shadow, rule.deny, rule.label) == (
        ("a:b",),
        True,
        True,
        False,
        "GET,POST /a",
    )


def test_public_surface() -> None:
    """Everything in `__all__` is importable, the Litestar guard lazily, and unknown names raise."""
    import asgi_guard.rbac as rbac

    for name in rbac.__all__:
        assert getattr(rbac, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = rbac.nothing  # type: ignore[attr-defined]
