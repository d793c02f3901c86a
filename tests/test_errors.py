"""The error contract: stable codes, statuses, generic texts and configuration errors."""

from __future__ import annotations

import pytest

from asgi_guard.errors import DETAIL, STATUS, ConfigurationError, ErrorCode, GuardError, MissingGuardContext

DESIGN_STATUS = {
    400: {
        "missing_community_id",
        "invalid_community_id",
        "validation_error",
        "malformed_request",
        "ambiguous_credentials",
    },
    401: {
        "missing_credentials",
        "invalid_token",
        "token_expired",
        "token_revoked",
        "invalid_api_key",
        "api_key_expired",
        "missing_signature",
        "invalid_signature",
        "stale_timestamp",
    },
    403: {"insufficient_permissions", "community_forbidden", "csrf_failed"},
    409: {"replayed_message"},
    413: {"payload_too_large"},
    415: {"unsupported_media_type"},
    429: {"rate_limit_exceeded"},
    503: {"service_unavailable"},
}


def test_codes_and_statuses_match_the_design_table() -> None:
    """Every code of the error contract (docs/errors.md) exists with its status, and there are no others."""
    actual: dict[int, set[str]] = {}
    for code, status in STATUS.items():
        actual.setdefault(status, set()).add(code.value)
    assert actual == DESIGN_STATUS
    assert set(STATUS) == set(ErrorCode) == set(DETAIL)


def test_generic_details_are_single_line_text() -> None:
    """Client-facing texts are non-empty sentences without quotes or control characters."""
    for text in DETAIL.values():
        assert text.endswith(".")
        assert '"' not in text
        assert "\\" not in text
        assert all(0x20 <= ord(char) < 0x7F for char in text)


def test_guard_error_defaults_reason_to_the_code() -> None:
    """A GuardError without a reason logs the code itself, and exposes its status."""
    error = GuardError(ErrorCode.TOKEN_EXPIRED)
    assert (error.reason, error.status, error.detail, error.headers) == ("token_expired", 401, None, ())
    assert error.args == ("token_expired", "")


def test_configuration_error_message_shape() -> None:
    """ConfigurationError.expected builds the msgspec-style "Expected X, got Y - at `where`" message."""
    error = ConfigurationError.expected("an int >= 1", 0, "RateLimitConfig.limit")
    assert str(error) == "Expected an int >= 1, got 0 - at `RateLimitConfig.limit`"
    assert isinstance(error, ValueError)


def test_missing_guard_context_is_a_lookup_error() -> None:
    """MissingGuardContext can be caught as LookupError."""
    with pytest.raises(LookupError):
        raise MissingGuardContext("install it")
