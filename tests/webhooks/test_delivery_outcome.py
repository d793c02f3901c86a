"""A delivery counts as seen only once the app accepted it (2xx); every other outcome forgets it.

Regression for issue 11 item 2: the webhook layer used to forget a delivery only when the app raised
or answered 5xx, so a delivery refused by an inner guard (a 429 from the per-IP tier) was remembered
and the provider's retry was acknowledged as a duplicate: the event was lost.
"""

from __future__ import annotations

from typing import Any

import pytest

from asgi_guard.ratelimit import Limit, MemoryRateLimitBackend, RateLimitConfig, RateLimitMiddleware
from asgi_guard.testing import FakeClock, call, make_scope
from asgi_guard.webhooks import (
    MemoryReplayStore,
    TwitchEventSub,
    WebhookConfig,
    WebhookMiddleware,
    sign_twitch,
)
from tests.webhooks.helpers import NOW, RecordingApp

pytestmark = pytest.mark.anyio

SECRET = "outcome-secret-0123"
BODY = b'{"subscription":{"type":"channel.follow"},"event":{"user_id":"1"}}'
STAMP = "2023-11-14T22:13:20Z"  # NOW


def _headers(message_id: str = "m-1") -> dict[str, str]:
    return sign_twitch(SECRET, BODY, message_id=message_id, timestamp=STAMP)


def _stack(app: Any, clock: FakeClock, store: MemoryReplayStore) -> WebhookMiddleware:
    return WebhookMiddleware(
        app, WebhookConfig(routes={"/hook": TwitchEventSub(secrets=[SECRET])}, clock=clock, replay_store=store)
    )


class StatusApp:
    """Answers each call with the next status of ``statuses`` (sending nothing for 0)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await receive()
        self.calls += 1
        status = self.statuses.pop(0)
        if status:
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b"app"})


@pytest.mark.parametrize("status", [0, 301, 400, 403, 404, 409, 422, 429, 500, 503])
async def test_any_outcome_but_2xx_forgets_the_delivery(status: int) -> None:
    """Not accepted (no response, a redirect, any 4xx or 5xx): the provider's retry reaches the app."""
    clock, store = FakeClock(NOW), MemoryReplayStore()
    app = StatusApp(status, 200, 200)
    mw = _stack(app, clock, store)
    first = await call(mw, make_scope("POST", "/hook", headers=_headers()), BODY)
    assert [message["status"] for message in first.messages if "status" in message] == ([status] if status else [])
    assert len(store) == 0
    retry = await call(mw, make_scope("POST", "/hook", headers=_headers()), BODY)
    assert (retry.status, retry.body, app.calls) == (200, b"app", 2)
    duplicate = await call(mw, make_scope("POST", "/hook", headers=_headers()), BODY)
    assert (duplicate.status, duplicate.body, app.calls) == (200, b"", 2)  # accepted once: now a replay


@pytest.mark.parametrize("status", [200, 202, 204])
async def test_a_2xx_marks_the_delivery_seen(status: int) -> None:
    """Accepted with any 2xx: a copy is acknowledged without reaching the app."""
    clock, store = FakeClock(NOW), MemoryReplayStore()
    app = StatusApp(status, 200)
    mw = _stack(app, clock, store)
    assert (await call(mw, make_scope("POST", "/hook", headers=_headers()), BODY)).status == status
    assert len(store) == 1
    copy = await call(mw, make_scope("POST", "/hook", headers=_headers()), BODY)
    assert (copy.status, copy.body, app.calls) == (200, b"", 1)


async def test_inner_rate_limit_refusal_lets_the_retry_through() -> None:
    """A real inner rate limiter answers 429: the delivery is forgotten, and once the limit allows
    again the provider's retry of the same message reaches the app (issue 11 item 2)."""
    clock, store = FakeClock(NOW), MemoryReplayStore()
    app = RecordingApp()
    limits = RateLimitConfig(
        limits=(Limit(name="ip", rate="1/minute"),), backend=MemoryRateLimitBackend(clock=clock), clock=clock
    )
    mw = _stack(RateLimitMiddleware(app, limits), clock, store)
    first = await call(mw, make_scope("POST", "/hook", headers=_headers("m-1")), BODY)
    assert (first.status, app.bodies) == (200, [BODY])
    refused = await call(mw, make_scope("POST", "/hook", headers=_headers("m-2")), BODY)
    assert (refused.status, refused.json()["error"]) == (429, "rate_limit_exceeded")
    assert len(app.bodies) == 1
    clock.advance(61)
    retry = await call(mw, make_scope("POST", "/hook", headers=_headers("m-2")), BODY)
    assert (retry.status, retry.body) == (200, b"app")
    assert app.bodies == [BODY, BODY]


async def test_exception_after_a_2xx_start_still_forgets() -> None:
    """An app that started a 200 and then crashed did not accept the delivery: the retry goes through."""
    clock, store = FakeClock(NOW), MemoryReplayStore()
    calls: list[int] = []

    async def crashing(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        calls.append(1)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if len(calls) == 1:
            raise RuntimeError("crashed mid-body")
        await send({"type": "http.response.body", "body": b"ok"})

    mw = _stack(crashing, clock, store)
    with pytest.raises(RuntimeError, match="crashed mid-body"):
        await call(mw, make_scope("POST", "/hook", headers=_headers()), BODY)
    assert len(store) == 0
    assert (await call(mw, make_scope("POST", "/hook", headers=_headers()), BODY)).body == b"ok"
    assert len(calls) == 2
