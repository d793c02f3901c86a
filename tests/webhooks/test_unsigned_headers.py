"""Nothing a provider leaves unsigned changes how a signed delivery is treated (issue 11 item 3).

Twitch does not sign ``Twitch-Eventsub-Message-Type``: a challenge or revocation answered inline used
to go unrecorded, so the same signed bytes re-sent as a ``notification`` reached the app. Every
delivery answered inline is now claimed in the replay store like any other, and each scheme is
checked here for the same class: an unsigned header (or an unsigned spelling of a signed one) is
changed on a copy of a delivery, and the copy must not reach the app as something new.
"""

from __future__ import annotations

import pytest

from asgi_guard.testing import FakeClock
from asgi_guard.webhooks import (
    DiscordInteractions,
    GenericHMAC,
    GitHub,
    MemoryReplayStore,
    Slack,
    StandardWebhooks,
    Stripe,
    TimestampedHMAC,
    TwitchEventSub,
    discord_public_key,
    sign_discord,
    sign_generic,
    sign_github,
    sign_slack,
    sign_standard,
    sign_stripe,
    sign_timestamped,
    sign_twitch,
)
from tests.webhooks.helpers import NOW, last_event, middleware, post

pytestmark = pytest.mark.anyio

SECRET = "unsigned-headers-secret"
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DISCORD_PRIVATE = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
STAMP = int(NOW)
RFC_STAMP = "2023-11-14T22:13:20Z"
CHALLENGE = b'{"challenge":"abc-123","subscription":{"id":"s-1","type":"channel.follow"}}'
REVOCATION = b'{"subscription":{"id":"s-1","status":"authorization_revoked","type":"channel.follow"}}'


@pytest.mark.parametrize(
    ("first_type", "body", "answer"),
    [("webhook_callback_verification", CHALLENGE, (200, b"abc-123")), ("revocation", REVOCATION, (204, b""))],
    ids=["challenge", "revocation"],
)
@pytest.mark.parametrize("on_replay", ["acknowledge", "reject"])
async def test_twitch_inline_answer_cannot_be_resent_as_notification(
    first_type: str, body: bytes, answer: tuple[int, bytes], on_replay: str
) -> None:
    """A challenge or revocation answered inline is recorded: re-typed as a notification it is a replay."""
    store = MemoryReplayStore()
    mw, app, _ = middleware(TwitchEventSub(secrets=[SECRET], on_replay=on_replay), replay_store=store)  # type: ignore[arg-type]
    headers = sign_twitch(SECRET, body, message_id="m-inline", timestamp=RFC_STAMP, message_type=first_type)
    response, _ = await post(mw, headers, body)
    assert (response.status, response.body) == answer
    assert len(store) == 1
    resent, scope = await post(mw, {**headers, "Twitch-Eventsub-Message-Type": "notification"}, body)
    assert app.bodies == []
    if on_replay == "acknowledge":
        assert (resent.status, resent.body) == (200, b"")
        assert last_event(scope).reason == "duplicate_delivery_acknowledged"
    else:
        assert (resent.status, resent.json()["error"]) == (409, "replayed_message")


async def test_twitch_notification_retyped_never_reaches_the_app_twice() -> None:
    """A notification re-sent as a revocation is answered inline; re-sent as a notification it is a replay."""
    mw, app, _ = middleware(TwitchEventSub(secrets=[SECRET]))
    headers = sign_twitch(SECRET, REVOCATION, message_id="m-n", timestamp=RFC_STAMP)
    assert (await post(mw, headers, REVOCATION))[0].body == b"app"
    retyped, scope = await post(mw, {**headers, "Twitch-Eventsub-Message-Type": "revocation"}, REVOCATION)
    assert (retyped.status, last_event(scope).reason) == (204, "revocation_repeated")
    assert (await post(mw, headers, REVOCATION))[0].body == b""
    assert app.bodies == [REVOCATION]


async def test_discord_ping_is_recorded_and_answered_again() -> None:
    """A PING (its type is in the signed body) is claimed like any delivery; a copy gets PONG, never the app."""
    store = MemoryReplayStore()
    public = discord_public_key(DISCORD_PRIVATE)
    mw, app, _ = middleware(DiscordInteractions(public_keys=[public]), replay_store=store)
    body = b'{"type":1,"id":"i-1"}'
    headers = sign_discord(DISCORD_PRIVATE, body, STAMP)
    first, _ = await post(mw, headers, body)
    assert (first.status, first.json()) == (200, {"type": 1})
    assert len(store) == 1
    again, scope = await post(mw, headers, body)
    assert (again.json(), last_event(scope).reason) == ({"type": 1}, "ping_repeated")
    assert app.bodies == []


async def test_github_event_and_delivery_headers_are_unsigned() -> None:
    """GitHub signs the body only: a copy with another X-GitHub-Event or delivery GUID is a replay."""
    mw, app, _ = middleware(GitHub(secrets=[SECRET]))
    body = b'{"action":"opened"}'
    headers = {**sign_github(SECRET, body, delivery="d-1"), "X-GitHub-Event": "issues"}
    assert (await post(mw, headers, body))[0].body == b"app"
    for changed in ({"X-GitHub-Event": "pull_request"}, {"X-GitHub-Delivery": "d-2"}):
        copy, scope = await post(mw, {**headers, **changed}, body)
        assert (copy.status, copy.body) == (200, b"")
        assert last_event(scope).reason == "duplicate_delivery_acknowledged"
    assert app.bodies == [body]


async def test_slack_retry_headers_are_unsigned() -> None:
    """Slack's X-Slack-Retry-* headers are unsigned: a copy carrying them is still the same delivery."""
    mw, app, _ = middleware(Slack(secrets=[SECRET]))
    body = b"token=x&command=%2Fhi"
    headers = sign_slack(SECRET, body, STAMP)
    assert (await post(mw, headers, body))[0].body == b"app"
    copy, _ = await post(mw, {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}, body)
    assert (copy.status, copy.json()["error"]) == (409, "replayed_message")
    upper = {**headers, "X-Slack-Signature": "v0=" + headers["X-Slack-Signature"][3:].upper()}
    assert (await post(mw, upper, body))[0].status == 409  # hex case is not a new signature
    assert app.bodies == [body]


async def test_stripe_header_spelling_is_not_a_new_delivery() -> None:
    """Reordered entries, an added v0 or extra spaces in Stripe-Signature do not make a copy new."""
    mw, app, _ = middleware(Stripe(secrets=[SECRET]))
    body = b'{"id":"evt_1","type":"charge.succeeded"}'
    header = sign_stripe(SECRET, body, STAMP)["Stripe-Signature"]
    stamp, v1 = header.split(",")
    assert (await post(mw, {"Stripe-Signature": header}, body))[0].body == b"app"
    for spelling in (f"{v1},{stamp}", f"{stamp}, v0={'0' * 64}, {v1}", f"{stamp},{v1.upper().replace('V1', 'v1')}"):
        copy, _ = await post(mw, {"Stripe-Signature": spelling}, body)
        assert (copy.status, copy.json()["error"]) == (409, "replayed_message")
    assert app.bodies == [body]


async def test_standard_webhooks_copy_under_svix_names_is_a_replay() -> None:
    """The same signed message re-sent under the svix-* names instead of webhook-* is a replay."""
    mw, app, _ = middleware(StandardWebhooks(secrets=[SW_SECRET]))
    body = b'{"type":"user.created"}'
    headers = sign_standard(SW_SECRET, body, message_id="msg_1", timestamp=STAMP)
    assert (await post(mw, headers, body))[0].body == b"app"
    svix = {name.replace("webhook-", "svix-"): value for name, value in headers.items()}
    copy, _ = await post(mw, svix, body)
    assert (copy.status, copy.body) == (200, b"")
    assert app.bodies == [body]


async def test_timestamped_signature_spelling_is_not_a_new_delivery() -> None:
    """With or without the sha256= prefix, in either hex case: the same timestamped delivery."""
    mw, app, _ = middleware(TimestampedHMAC(secrets=[SECRET]))
    body = b'{"n":1}'
    headers = sign_timestamped(SECRET, body, STAMP)
    digest = headers["X-Webhook-Signature"].removeprefix("sha256=")
    assert (await post(mw, headers, body))[0].body == b"app"
    for spelling in (digest, digest.upper(), "sha256=" + digest.upper()):
        copy, _ = await post(mw, {**headers, "X-Webhook-Signature": spelling}, body)
        assert copy.status == 409
    assert app.bodies == [body]


async def test_plain_generic_hmac_cannot_deduplicate() -> None:
    """Documented limit: the plain body signature carries nothing to deduplicate on (prefer TimestampedHMAC)."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET]), clock=FakeClock(NOW))
    body = b'{"n":1}'
    for _ in range(2):
        assert (await post(mw, sign_generic(SECRET, body), body))[0].body == b"app"
    assert len(app.bodies) == 2
