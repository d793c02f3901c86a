"""Twitch EventSub: what we sign, verified by twitchAPI's own webhook handler served over aiohttp.

Reference: https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message

One direction only: twitchAPI is a receiver and has no signer (Twitch itself, or the Go twitch-cli,
signs deliveries), so the other direction is covered by Twitch's published vector in
tests/webhooks/test_twitch.py. The library is driven offline: ``Twitch(..., authenticate_app=False)``
makes no request, and its ``EventSubWebhook`` aiohttp application is served on loopback by aiohttp's
``TestServer`` instead of being started against Twitch (which would subscribe over the network).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp.test_utils import TestServer
from twitchAPI.eventsub.webhook import EventSubWebhook
from twitchAPI.twitch import Twitch

from asgi_guard.webhooks import TwitchEventSub, sign_twitch
from tests.interop.helpers import deliver

pytestmark = pytest.mark.anyio

SECRET = "twitch-interop-secret-0123456789"
SUBSCRIPTION = "f1c2a387-161a-49f9-a165-0f21d7a4e1c4"


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.123456789Z", time.gmtime())


@pytest.fixture
async def twitch_handler() -> AsyncIterator[tuple[str, EventSubWebhook]]:
    """twitchAPI's webhook application on loopback; yields its callback URL and the webhook object."""
    hook = EventSubWebhook("https://example.invalid", 0, Twitch("app-id", authenticate_app=False))
    hook.secret = SECRET
    # A subscription as twitchAPI records one after subscribing (its event class: plain dict here).
    hook._callbacks[SUBSCRIPTION] = {"id": SUBSCRIPTION, "callback": None, "event": dict, "active": False}
    runner = hook._EventSubWebhook__build_runner()  # type: ignore[attr-defined]  # the library's own routes
    server = TestServer(runner.app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/callback")), hook
    finally:
        await server.close()


async def test_our_challenge_is_answered_by_twitchapi(twitch_handler: tuple[str, EventSubWebhook]) -> None:
    """twitchAPI verifies our signature on a challenge and answers the challenge (403 when it does not verify)."""
    url, _ = twitch_handler
    body = b'{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"' + SUBSCRIPTION.encode() + b'"}}'
    headers = sign_twitch(
        SECRET, body, message_id="m-1", timestamp=_stamp(), message_type="webhook_callback_verification"
    )
    async with httpx.AsyncClient() as client:
        good = await client.post(url, content=body, headers=headers)
        forged = await client.post(
            url, content=body, headers=sign_twitch("x" * 32, body, message_id="m-1", timestamp=_stamp())
        )
    assert (good.status_code, good.text) == (200, "pogchamp-kappa-360noscope-vohiyo")
    assert forged.status_code == 403
    status, _ = await deliver(TwitchEventSub(secrets=[SECRET]), headers, body)
    assert status == 200  # and ours answers the same delivery


async def test_our_notification_is_dispatched_by_twitchapi(twitch_handler: tuple[str, EventSubWebhook]) -> None:
    """A notification we sign passes twitchAPI's signature check and is dispatched; a tampered one is 403."""
    url, hook = twitch_handler
    body = b'{"subscription":{"id":"' + SUBSCRIPTION.encode() + b'","type":"channel.follow"},"event":{"user_id":"1"}}'
    headers = {
        **sign_twitch(SECRET, body, message_id="m-2", timestamp=_stamp()),
        "Twitch-Eventsub-Subscription-Type": "channel.follow",
        "Twitch-Eventsub-Subscription-Version": "2",
    }
    async with httpx.AsyncClient() as client:
        good = await client.post(url, content=body, headers=headers)
        tampered = await client.post(url, content=body.replace(b'"1"', b'"2"'), headers=headers)
    assert good.status_code == 200
    assert list(hook._msg_id_history) == ["m-2"]  # recorded only after its signature check
    assert tampered.status_code == 403
