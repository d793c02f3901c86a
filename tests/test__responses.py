"""Every denial: JSON or problem+json bodies, WWW-Authenticate per RFC 6750, Retry-After, websocket close."""

from __future__ import annotations

import msgspec
import pytest

from asgi_guard._responses import EVENT_TYPE, WS_POLICY_VIOLATION, challenge, render_body, send_denial
from asgi_guard.context import GuardContext
from asgi_guard.errors import DETAIL, STATUS, ErrorCode, GuardError
from asgi_guard.testing import MessageRecorder, make_scope

pytestmark = pytest.mark.anyio


async def _deny(error: GuardError, **kwargs: object) -> tuple[MessageRecorder, GuardContext]:
    scope = make_scope("POST", "/x")
    recorder = MessageRecorder()
    await send_denial(scope, recorder, error, **kwargs)  # type: ignore[arg-type]
    return recorder, GuardContext.from_scope(scope)


@pytest.mark.parametrize("code", list(ErrorCode))
async def test_every_code_renders_its_status_and_generic_json(code: ErrorCode) -> None:
    """Each code answers with its status, {"error", "detail"} JSON, no-store and an exact Content-Length."""
    response, ctx = await _deny(GuardError(code, "precise-internal-cause"))
    assert response.status == STATUS[code]
    assert response.json() == {"error": code.value, "detail": DETAIL[code]}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert int(response.headers["content-length"]) == len(response.body)
    assert b"precise-internal-cause" not in response.body
    assert [(event.type, event.result, event.reason) for event in ctx.events] == [
        (EVENT_TYPE[code], "deny", "precise-internal-cause")
    ]


async def test_problem_json_per_rfc_9457() -> None:
    """fmt="problem" answers application/problem+json with type, title, status, detail and the code member."""
    response, _ = await _deny(GuardError(ErrorCode.COMMUNITY_FORBIDDEN), fmt="problem")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:asgi-guard:error:community_forbidden",
        "title": "Forbidden",
        "status": 403,
        "detail": DETAIL[ErrorCode.COMMUNITY_FORBIDDEN],
        "code": "community_forbidden",
    }


async def test_custom_detail_overrides_the_generic_text() -> None:
    """A GuardError detail replaces the generic text in the body."""
    response, _ = await _deny(GuardError(ErrorCode.VALIDATION_ERROR, detail="name: too long"))
    assert response.json()["detail"] == "name: too long"


CHALLENGES = [
    (ErrorCode.MISSING_CREDENTIALS, False, 'Bearer realm="api"'),
    (
        ErrorCode.INVALID_TOKEN,
        False,
        'Bearer realm="api", error="invalid_token", error_description="The access token is not valid."',
    ),
    (
        ErrorCode.TOKEN_EXPIRED,
        False,
        'Bearer realm="api", error="invalid_token", error_description="The access token has expired."',
    ),
    (
        ErrorCode.TOKEN_REVOKED,
        False,
        'Bearer realm="api", error="invalid_token", error_description="The access token has been revoked."',
    ),
    (ErrorCode.INVALID_API_KEY, False, 'ApiKey realm="api"'),
    (ErrorCode.API_KEY_EXPIRED, False, 'ApiKey realm="api"'),
    (ErrorCode.INVALID_SIGNATURE, False, 'Signature realm="api"'),
    (ErrorCode.INSUFFICIENT_PERMISSIONS, True, 'Bearer realm="api", error="insufficient_scope"'),
    (ErrorCode.INSUFFICIENT_PERMISSIONS, False, None),
    (ErrorCode.COMMUNITY_FORBIDDEN, True, None),
]


@pytest.mark.parametrize(("code", "bearer", "expected"), CHALLENGES)
async def test_www_authenticate_per_rfc_6750(code: ErrorCode, bearer: bool, expected: str | None) -> None:
    """No error attribute without credentials, invalid_token for bad tokens, insufficient_scope on bearer 403."""
    response, _ = await _deny(GuardError(code), bearer=bearer)
    assert response.headers.get("www-authenticate") == expected
    assert "error=" not in (challenge(ErrorCode.MISSING_CREDENTIALS) or b"").decode()


async def test_no_challenge_outside_401_and_403() -> None:
    """A 429 or 400 carries no WWW-Authenticate even for a bearer caller."""
    for code in (ErrorCode.RATE_LIMIT_EXCEEDED, ErrorCode.MALFORMED_REQUEST):
        response, _ = await _deny(GuardError(code), bearer=True)
        assert "www-authenticate" not in response.headers


async def test_retry_after_and_extra_headers_pass_through() -> None:
    """Headers carried by the GuardError (Retry-After, rate-limit headers) are sent as given."""
    error = GuardError(
        ErrorCode.RATE_LIMIT_EXCEEDED, headers=((b"retry-after", b"17"), (b"x-ratelimit-remaining", b"0"))
    )
    response, _ = await _deny(error)
    assert response.status == 429
    assert response.headers["retry-after"] == "17"
    assert response.headers["x-ratelimit-remaining"] == "0"


async def test_event_type_result_and_extra_fields() -> None:
    """event_type, result and extra fields override what is logged, and extra values are cleaned."""
    _, ctx = await _deny(
        GuardError(ErrorCode.RATE_LIMIT_EXCEEDED, "bucket_empty"),
        event_type="rate_limit_shadow",
        result="shadow",
        limit="ip\r\nforged",
    )
    event = ctx.events[0]
    assert (event.type, event.result, event.reason) == ("rate_limit_shadow", "shadow", "bucket_empty")
    assert event.extra == {"limit": "ip\ufffd\ufffdforged"}


async def test_websocket_denial_closes_with_1008() -> None:
    """A websocket scope is closed with 1008 and the code as reason, before any accept."""
    scope = make_scope(type="websocket", path="/ws")
    recorder = MessageRecorder()
    await send_denial(scope, recorder, GuardError(ErrorCode.MISSING_CREDENTIALS))
    assert recorder.messages == [
        {"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": "missing_credentials"}
    ]
    assert GuardContext.from_scope(scope).events[0].action == "WS /ws"


def test_render_body_is_memoised_but_bounded() -> None:
    """Identical denials reuse one body; many distinct details still render correctly."""
    first = render_body(ErrorCode.MALFORMED_REQUEST)
    assert render_body(ErrorCode.MALFORMED_REQUEST) is first
    for index in range(1100):
        body = render_body(ErrorCode.VALIDATION_ERROR, "json", f"field {index}")
        assert msgspec.json.decode(body)["detail"] == f"field {index}"
