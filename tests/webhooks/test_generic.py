"""The generic HMAC-SHA256 schemes, plain and timestamped."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from asgi_guard.webhooks import GenericHMAC, TimestampedHMAC, sign_generic, sign_timestamped
from tests.webhooks.helpers import NOW, last_event, middleware, post

pytestmark = pytest.mark.anyio

SECRET = "generic-secret-one"
OLD_SECRET = "generic-secret-zero"
BODY = b'{"event":"member.joined","id":42}'


async def test_plain_signature_verifies_and_app_gets_exact_body() -> None:
    """A body signed with the configured secret reaches the app byte for byte, chunked or not."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET]))
    response, scope = await post(mw, sign_generic(SECRET, BODY), [BODY[:5], BODY[5:]])
    assert response.status == 200
    assert app.bodies == [BODY]
    assert app.webhooks[0].provider == "generic"
    assert last_event(scope).type == "webhook_verified"


async def test_prefix_is_optional_and_hex_case_is_ignored() -> None:
    """The seed scheme's bare hex (either case) verifies like the `sha256=` form."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET]))
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    for value in (digest, digest.upper(), "sha256=" + digest):
        response, _ = await post(mw, {"X-Webhook-Signature": value}, BODY)
        assert response.status == 200
    assert len(app.bodies) == 3


async def test_rotation_accepts_old_and_new_secret() -> None:
    """During rotation both secrets verify; a third does not."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET, OLD_SECRET]))
    assert (await post(mw, sign_generic(OLD_SECRET, BODY), BODY))[0].status == 200
    assert (await post(mw, sign_generic(SECRET, BODY), BODY))[0].status == 200
    response, _ = await post(mw, sign_generic("someone-else", BODY), BODY)
    assert response.status == 401
    assert len(app.bodies) == 2


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_signature"),
        ({"X-Webhook-Signature": ""}, 401, "invalid_signature"),
        ({"X-Webhook-Signature": "sha256=abc"}, 401, "invalid_signature"),
        ({"X-Webhook-Signature": "zz" * 32}, 401, "invalid_signature"),
        ({"X-Webhook-Signature": "sha256=" + "a" * 63 + " "}, 401, "invalid_signature"),
        ({"X-Webhook-Signature": "x" * 5000}, 401, "invalid_signature"),
        ([("X-Webhook-Signature", "a" * 64), ("X-Webhook-Signature", "b" * 64)], 401, "invalid_signature"),
    ],
)
async def test_malformed_signature_headers_are_refused(headers: object, status: int, code: str) -> None:
    """Missing, empty, short, non-hex, oversized and duplicated signatures get their stable code."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET]))
    response, scope = await post(mw, headers, BODY)  # type: ignore[arg-type]
    assert (response.status, response.json()["error"]) == (status, code)
    assert app.bodies == []
    assert last_event(scope).extra["provider"] == "generic"


async def test_tampered_body_is_refused() -> None:
    """A signature over other bytes does not verify."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET]))
    response, _ = await post(mw, sign_generic(SECRET, BODY), BODY + b" ")
    assert response.json()["error"] == "invalid_signature"
    assert app.bodies == []


async def test_custom_signature_header() -> None:
    """A configured header name replaces `X-Webhook-Signature`."""
    mw, _app, _ = middleware(GenericHMAC(secrets=[SECRET], signature_header="x-signature"))
    value = sign_generic(SECRET, BODY)["X-Webhook-Signature"]
    assert (await post(mw, {"X-Signature": value}, BODY))[0].status == 200
    assert (await post(mw, {"X-Webhook-Signature": value}, BODY))[0].status == 401


async def test_timestamped_round_trip_and_replay() -> None:
    """The timestamped variant verifies once; the identical request again is a 409 replay."""
    mw, app, _ = middleware(TimestampedHMAC(secrets=[SECRET]))
    headers = sign_timestamped(SECRET, BODY, int(NOW))
    assert (await post(mw, headers, BODY))[0].status == 200
    response, scope = await post(mw, headers, BODY)
    assert (response.status, response.json()["error"]) == (409, "replayed_message")
    assert last_event(scope).type == "signature_failure"
    assert app.bodies == [BODY]


@pytest.mark.parametrize(("offset", "status"), [(-301, 401), (-300, 200), (300, 200), (301, 401)])
async def test_timestamped_window_both_ways(offset: int, status: int) -> None:
    """Timestamps up to the tolerance away in either direction verify; beyond it they are stale."""
    mw, _, _ = middleware(TimestampedHMAC(secrets=[SECRET]))
    response, _ = await post(mw, sign_timestamped(SECRET, BODY, int(NOW) + offset), BODY)
    assert response.status == status
    if status == 401:
        assert response.json()["error"] == "stale_timestamp"


@pytest.mark.parametrize("stamp", ["-1700000000", "1700000000.5", "1e9", " 1700000000", "一七"])
async def test_timestamped_rejects_non_numeric_timestamps(stamp: str) -> None:
    """Only plain Unix seconds are accepted as the timestamp."""
    mw, _, _ = middleware(TimestampedHMAC(secrets=[SECRET]))
    headers = sign_timestamped(SECRET, BODY, int(NOW))
    raw = [("X-Webhook-Signature", headers["X-Webhook-Signature"]), ("X-Webhook-Timestamp", stamp.encode())]
    response, _ = await post(mw, raw, BODY)  # type: ignore[arg-type]
    assert (response.status, response.json()["error"]) == (401, "invalid_signature")


async def test_timestamp_is_signed() -> None:
    """Moving the timestamp invalidates the signature."""
    mw, _, _ = middleware(TimestampedHMAC(secrets=[SECRET]))
    headers = sign_timestamped(SECRET, BODY, int(NOW))
    headers["X-Webhook-Timestamp"] = str(int(NOW) + 1)
    assert (await post(mw, headers, BODY))[0].json()["error"] == "invalid_signature"
