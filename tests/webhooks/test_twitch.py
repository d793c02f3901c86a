"""Twitch EventSub: signature, 10-minute window, message-id dedupe, challenge and revocation."""

from __future__ import annotations

import calendar

import pytest

from asgi_guard.errors import GuardError
from asgi_guard.webhooks import TwitchEventSub, sign_twitch
from asgi_guard.webhooks.twitch import parse_rfc3339
from tests.webhooks.helpers import NOW, VECTORS, last_event, middleware, post

pytestmark = pytest.mark.anyio

VECTOR = VECTORS["twitch-eventsub-twitch4j"]
INPUTS = VECTOR["inputs"]
SECRET = "twitch-secret-0123"
STAMP = "2023-11-14T22:13:20.123456789Z"  # NOW + 0.123456789 s, nanosecond precision as Twitch sends
BODY = b'{"subscription":{"type":"channel.follow"},"event":{"user_id":"1337"}}'


def vector_headers(**changes: str) -> dict[str, str]:
    headers = {
        "Twitch-Eventsub-Message-Id": INPUTS["Twitch-Eventsub-Message-Id"],
        "Twitch-Eventsub-Message-Timestamp": INPUTS["Twitch-Eventsub-Message-Timestamp"],
        "Twitch-Eventsub-Message-Signature": VECTOR["expected"]["Twitch-Eventsub-Message-Signature"],
        "Twitch-Eventsub-Message-Type": "notification",
    }
    headers.update(changes)
    return headers


def vector_middleware(secret: str = INPUTS["secret"]):  # type: ignore[no-untyped-def]
    mw, app, clock = middleware(TwitchEventSub(secrets=[secret]))
    clock.set(parse_rfc3339(INPUTS["Twitch-Eventsub-Message-Timestamp"].encode()) + 60)
    return mw, app


async def test_published_vector_verifies() -> None:
    """The twitch4j vector (secret, id, nanosecond timestamp, body) verifies and reaches the app."""
    mw, app = vector_middleware()
    body = INPUTS["raw_body"].encode()
    response, _ = await post(mw, vector_headers(), body)
    assert response.status == 200
    assert app.bodies == [body]
    assert app.webhooks[0].message_id == INPUTS["Twitch-Eventsub-Message-Id"]


@pytest.mark.parametrize(
    ("change", "body"),
    [
        ({}, b"Hello World"),
        ({"Twitch-Eventsub-Message-Id": "8d4c39a4-10b3-4166-b1fb-56130d1f693b"}, None),
        ({"Twitch-Eventsub-Message-Timestamp": "2020-12-13T14:15:16.1719Z"}, None),
        ({"Twitch-Eventsub-Message-Signature": "sha256=2ac8d26bf60837663d8969f3cb4f22f685c8fa0a4b99d533"}, None),
        ({"Twitch-Eventsub-Message-Signature": "sha256=" + "g" * 64}, None),
        (
            {"Twitch-Eventsub-Message-Signature": "2ac8d26bf60837663d8969f3cb4f22f685c8fa0a4b99d533c8bf622ed4596cc6"},
            None,
        ),
    ],
)
async def test_vector_rejections(change: dict[str, str], body: bytes | None) -> None:
    """The vector's listed rejections: other body, id, timestamp, truncated or non-hex signature, no prefix."""
    mw, app = vector_middleware()
    response, _ = await post(mw, vector_headers(**change), body if body is not None else INPUTS["raw_body"].encode())
    assert (response.status, response.json()["error"]) == (401, "invalid_signature")
    assert app.bodies == []


async def test_vector_wrong_secret() -> None:
    """The vector does not verify under another secret."""
    mw, _app = vector_middleware("s3cRe7")
    response, _ = await post(mw, vector_headers(), INPUTS["raw_body"].encode())
    assert response.json()["error"] == "invalid_signature"


async def test_uppercase_hex_is_accepted() -> None:
    """Hex case is not significant (the decision twitch4j also makes)."""
    mw, _ = vector_middleware()
    signature = VECTOR["expected"]["Twitch-Eventsub-Message-Signature"]
    upper = "sha256=" + signature.removeprefix("sha256=").upper()
    response, _ = await post(
        mw, vector_headers(**{"Twitch-Eventsub-Message-Signature": upper}), INPUTS["raw_body"].encode()
    )
    assert response.status == 200


@pytest.mark.parametrize(("offset", "status"), [(-601, 401), (-599, 200), (-60, 200), (60, 200), (601, 401)])
async def test_ten_minute_window(offset: int, status: int) -> None:
    """Messages older than 10 minutes, or as far ahead, are stale (twitch4j: -11 min rejected, ±1 min accepted)."""
    mw, _, clock = middleware(TwitchEventSub(secrets=[SECRET]))
    clock.set(NOW - offset)
    response, _ = await post(mw, sign_twitch(SECRET, BODY, message_id="m-1", timestamp=STAMP), BODY)
    assert response.status == status
    if status == 401:
        assert response.json()["error"] == "stale_timestamp"


async def test_duplicate_message_id_is_acknowledged_without_app() -> None:
    """Twitch resends: the same message id again gets 200 and the app is not called twice."""
    mw, app, _ = middleware(TwitchEventSub(secrets=[SECRET]))
    headers = sign_twitch(SECRET, BODY, message_id="m-dup", timestamp=STAMP)
    assert (await post(mw, headers, BODY))[0].status == 200
    response, scope = await post(mw, headers, BODY)
    assert (response.status, response.body) == (200, b"")
    assert last_event(scope).reason == "duplicate_delivery_acknowledged"
    assert last_event(scope).extra["message_id"] == "m-dup"
    assert len(app.bodies) == 1


async def test_duplicate_can_be_rejected() -> None:
    """With on_replay="reject" a duplicate message id is a 409."""
    mw, _app, _ = middleware(TwitchEventSub(secrets=[SECRET], on_replay="reject"))
    headers = sign_twitch(SECRET, BODY, message_id="m-dup", timestamp=STAMP)
    await post(mw, headers, BODY)
    response, _ = await post(mw, headers, BODY)
    assert (response.status, response.json()["error"]) == (409, "replayed_message")


async def test_challenge_is_answered_as_plain_text() -> None:
    """webhook_callback_verification is answered with the raw challenge as text/plain 200."""
    mw, app, _ = middleware(TwitchEventSub(secrets=[SECRET]))
    body = b'{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387"}}'
    headers = sign_twitch(SECRET, body, message_id="m-c", timestamp=STAMP, message_type="webhook_callback_verification")
    for reason in ("challenge", "challenge_repeated"):  # a resent challenge is answered again, never reaching the app
        response, scope = await post(mw, headers, body)
        assert (response.status, response.body) == (200, b"pogchamp-kappa-360noscope-vohiyo")
        assert response.headers["content-type"] == "text/plain"
        assert last_event(scope).reason == reason
    assert app.bodies == []


async def test_challenge_passes_to_app_when_disabled() -> None:
    """With answer_challenge off, the verified challenge goes to the app."""
    mw, app, _ = middleware(TwitchEventSub(secrets=[SECRET], answer_challenge=False))
    body = b'{"challenge":"abc"}'
    headers = sign_twitch(SECRET, body, message_id="m-c", timestamp=STAMP, message_type="webhook_callback_verification")
    assert (await post(mw, headers, body))[0].body == b"app"
    assert app.bodies == [body]


@pytest.mark.parametrize("body", [b"not json", b'{"challenge": 5}', b"{}"])
async def test_bad_challenge_body_is_malformed(body: bytes) -> None:
    """A signed challenge message without a string challenge is a 400."""
    mw, _, _ = middleware(TwitchEventSub(secrets=[SECRET]))
    headers = sign_twitch(SECRET, body, message_id="m-c", timestamp=STAMP, message_type="webhook_callback_verification")
    assert (await post(mw, headers, body))[0].json()["error"] == "malformed_request"


async def test_revocation_is_acknowledged() -> None:
    """A revocation is acknowledged with 204 and recorded as an event; the app is not called."""
    mw, app, _ = middleware(TwitchEventSub(secrets=[SECRET]))
    body = b'{"subscription":{"status":"authorization_revoked"}}'
    headers = sign_twitch(SECRET, body, message_id="m-r", timestamp=STAMP, message_type="revocation")
    response, scope = await post(mw, headers, body)
    assert (response.status, response.body) == (204, b"")
    assert (last_event(scope).type, last_event(scope).reason) == ("webhook_answered", "revocation")
    assert app.bodies == []


async def test_revocation_passes_to_app_when_disabled() -> None:
    """With acknowledge_revocation off, the revocation goes to the app."""
    mw, _app, _ = middleware(TwitchEventSub(secrets=[SECRET], acknowledge_revocation=False))
    headers = sign_twitch(SECRET, BODY, message_id="m-r", timestamp=STAMP, message_type="revocation")
    assert (await post(mw, headers, BODY))[0].body == b"app"


@pytest.mark.parametrize(
    "header",
    [
        "Twitch-Eventsub-Message-Id",
        "Twitch-Eventsub-Message-Timestamp",
        "Twitch-Eventsub-Message-Signature",
        "Twitch-Eventsub-Message-Type",
    ],
)
async def test_each_header_is_required(header: str) -> None:
    """Without any one of the four headers the request is refused as unsigned."""
    mw, app, _ = middleware(TwitchEventSub(secrets=[SECRET]))
    headers = sign_twitch(SECRET, BODY, message_id="m-1", timestamp=STAMP)
    del headers[header]
    response, _ = await post(mw, headers, BODY)
    assert (response.status, response.json()["error"]) == (401, "missing_signature")
    assert app.bodies == []


@pytest.mark.parametrize("message_id", ["has space", "x" * 257, "tab\tid"])
async def test_bad_message_ids_are_refused(message_id: str) -> None:
    """Message ids must be short visible ASCII (they become store keys and log fields): 401 otherwise."""
    mw, _, _ = middleware(TwitchEventSub(secrets=[SECRET]))
    headers = sign_twitch(SECRET, BODY, message_id="m-1", timestamp=STAMP)
    headers["Twitch-Eventsub-Message-Id"] = message_id
    assert (await post(mw, headers, BODY))[0].json()["error"] == "invalid_signature"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-14T22:13:20Z", NOW),
        ("2023-11-14t22:13:20z", NOW),
        ("2023-11-14T22:13:20.5Z", NOW + 0.5),
        ("2023-11-14T23:13:20+01:00", NOW),
        ("2023-11-14T21:43:20-00:30", NOW),
        ("2016-12-31T23:59:60Z", float(calendar.timegm((2017, 1, 1, 0, 0, 0)))),
    ],
)
def test_rfc3339_parsing(text: str, expected: float) -> None:
    """RFC 3339 timestamps with fractions, offsets, lower-case separators and leap seconds parse."""
    assert parse_rfc3339(text.encode()) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        "2023-11-14 22:13:20Z",
        "2023-11-14T22:13:20",
        "2023-02-30T00:00:00Z",
        "2023-13-01T00:00:00Z",
        "2023-11-14T24:00:00Z",
        "2023-11-14T22:60:00Z",
        "2023-11-14T22:13:61Z",
        "2023-11-14T22:13:20.1234567890Z",
        "1700000000",
    ],
)
def test_rfc3339_rejects(text: str) -> None:
    """Anything that is not a valid RFC 3339 date-time is refused as an invalid signature header."""
    with pytest.raises(GuardError) as caught:
        parse_rfc3339(text.encode())
    assert caught.value.code == "invalid_signature"


async def test_year_zero_timestamp_is_refused_not_a_crash() -> None:
    """An unsigned request stamped `0000-01-01T00:00:00Z` (no such date) gets 401, not an exception."""
    mw, app = vector_middleware()
    response, _ = await post(mw, vector_headers(**{"Twitch-Eventsub-Message-Timestamp": "0000-01-01T00:00:00Z"}), b"{}")
    assert (response.status, response.json()["error"]) == (401, "invalid_signature")
    assert app.bodies == []
