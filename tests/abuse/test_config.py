"""AbuseConfig, FailureLimit and Threshold refuse what cannot work, at construction."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_guard import guard
from asgi_guard.abuse import DEFAULT_FAILURES, AbuseConfig, FailureLimit, Threshold, failure_limits
from asgi_guard.compose import layer_of
from asgi_guard.errors import ConfigurationError, ErrorCode

IP = FailureLimit(name="ip", rate="5/minute")


def test_default_failures_are_real_error_codes() -> None:
    """Every default failure names a denial code (CSRF included), and none is a 400, 429 or 503."""
    codes = {code.value: code for code in ErrorCode}
    assert set(codes) >= DEFAULT_FAILURES
    assert "csrf_failed" in DEFAULT_FAILURES
    assert "missing_credentials" not in DEFAULT_FAILURES


def test_preset() -> None:
    """The preset is 20 per address and 5 per credential per 10 minutes; either can be left out."""
    ip, credential = failure_limits()
    assert (ip.key, ip.capacity, ip.parsed_rate.period) == ("ip", 20, 600)
    assert (credential.key, credential.capacity) == ("credential", 5)
    assert [limit.key for limit in failure_limits(per_credential=None)] == ["ip"]
    assert [limit.key for limit in failure_limits(per_ip=None)] == ["credential"]
    assert FailureLimit(name="x", rate="5/minute", burst=2).capacity == 2


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"name": "bad name!", "rate": "5/minute"}, "FailureLimit.name"),
        ({"name": "x", "rate": "often"}, "rate"),
        ({"name": "x", "rate": "5/minute", "burst": 0}, "burst"),
        ({"name": "x", "rate": "5/minute", "key": "account"}, "key"),
    ],
)
def test_bad_limits(kwargs: dict[str, Any], where: str) -> None:
    """A bad name, rate, burst or key is a ConfigurationError naming the field."""
    with pytest.raises(ConfigurationError, match=where):
        FailureLimit(**kwargs)


@pytest.mark.parametrize(("count", "window"), [(0, 60), (5, 0), (True, 60), (5, 100_000)])
def test_bad_thresholds(count: Any, window: Any) -> None:
    """Counts and windows must be positive and bounded."""
    with pytest.raises(ConfigurationError):
        Threshold(count=count, window=window)


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"limits": IP}, "AbuseConfig.limits"),
        ({"limits": ("ip",)}, r"limits\[0\]"),
        ({"limits": (IP, IP)}, "unique"),
        ({"limits": (FailureLimit(name="p", rate="5/minute", key="principal"),)}, "post_auth"),
        ({"stage": "later"}, "AbuseConfig.stage"),
        ({"patterns": {}}, "AbuseConfig.patterns"),
        ({"on_suspicious": "print"}, "on_suspicious"),
        ({"failures": {"invalid_token"}}, "AbuseConfig.failures"),
        ({"failure_statuses": frozenset({200})}, "failure_statuses"),
        ({"credential_headers": ("Authorization",)}, "credential_headers"),
        ({"credential_headers": ()}, "credential_headers"),
        ({"credential_cookies": ("",)}, "credential_cookies"),
        ({"fail_mode": "maybe"}, "fail_mode"),
        ({"budget": 0}, "budget"),
        ({"breaker_threshold": 0}, "breaker_threshold"),
        ({"trust_success_for": -1}, "trust_success_for"),
        ({"prefix": "a{b}"}, "prefix"),
        ({"error_format": "xml"}, "error_format"),
        ({"backend": object()}, "backend"),
    ],
)
def test_bad_configs(kwargs: dict[str, Any], where: str) -> None:
    """Each invalid option is refused with a message naming it."""
    with pytest.raises(ConfigurationError, match=where):
        AbuseConfig(**kwargs)


async def _app(scope: Any, receive: Any, send: Any) -> None:
    return None


def test_post_auth_placement_needs_authentication() -> None:
    """Principal limits sit after authentication, so guard() refuses them without it."""
    config = AbuseConfig(stage="post_auth", limits=(FailureLimit(name="p", rate="5/minute", key="principal"),))
    with pytest.raises(ConfigurationError, match="authentication"):
        guard(_app, config)
    assert layer_of(AbuseConfig()).name == "abuse_pre_auth"
    assert layer_of(config).name == "abuse"
