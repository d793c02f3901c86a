"""Slack request signing and GitHub webhook signatures, with the providers' published examples."""

from __future__ import annotations

import pytest

from asgi_guard.webhooks import GitHub, Slack, sign_github, sign_slack
from tests.webhooks.helpers import NOW, VECTORS, last_event, middleware, post

pytestmark = pytest.mark.anyio

SLACK = VECTORS["slack-docs"]
GITHUB = VECTORS["github-docs"]


def slack_headers(**changes: str) -> dict[str, str]:
    headers = {
        "X-Slack-Request-Timestamp": SLACK["X-Slack-Request-Timestamp"],
        "X-Slack-Signature": SLACK["X-Slack-Signature"],
    }
    headers.update(changes)
    return headers


async def test_slack_documented_example_verifies() -> None:
    """Slack's worked example (secret, timestamp, slash-command body) verifies at its own time."""
    mw, app, clock = middleware(Slack(secrets=[SLACK["secret"]]))
    clock.set(float(SLACK["X-Slack-Request-Timestamp"]) + 30)
    body = SLACK["body"].encode()
    assert (await post(mw, slack_headers(), body))[0].status == 200
    assert app.bodies == [body]


async def test_slack_documented_example_is_stale_now() -> None:
    """The same example five minutes and one second later is refused as stale."""
    mw, _, clock = middleware(Slack(secrets=[SLACK["secret"]]))
    clock.set(float(SLACK["X-Slack-Request-Timestamp"]) + 301)
    response, _ = await post(mw, slack_headers(), SLACK["body"].encode())
    assert (response.status, response.json()["error"]) == (401, "stale_timestamp")


@pytest.mark.parametrize(
    "signature",
    [
        "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b504",
        "v0=",
    ],
)
async def test_slack_wrong_version_or_digest(signature: str) -> None:
    """Only `v0=` with the right digest verifies."""
    mw, app, clock = middleware(Slack(secrets=[SLACK["secret"]]))
    clock.set(float(SLACK["X-Slack-Request-Timestamp"]))
    response, _ = await post(mw, slack_headers(**{"X-Slack-Signature": signature}), SLACK["body"].encode())
    assert (response.status, response.json()["error"]) == (401, "invalid_signature")
    assert app.bodies == []


async def test_slack_round_trip_rotation_and_replay() -> None:
    """The signer's output verifies under either rotated secret; an identical resend is a replay."""
    mw, app, _ = middleware(Slack(secrets=["new-signing-secret", "old-signing-secret"]))
    body = b"payload=%7B%7D"
    assert (await post(mw, sign_slack("old-signing-secret", body, int(NOW)), body))[0].status == 200
    response, _ = await post(mw, sign_slack("old-signing-secret", body, int(NOW)), body)
    assert response.json()["error"] == "replayed_message"
    assert (await post(mw, sign_slack("new-signing-secret", body, int(NOW) + 1), body))[0].status == 200
    assert len(app.bodies) == 2


async def test_github_documented_example_verifies() -> None:
    """GitHub's documented test values (secret, "Hello, World!") verify."""
    mw, app, _ = middleware(GitHub(secrets=[GITHUB["secret"]]))
    headers = {
        "X-Hub-Signature-256": GITHUB["X-Hub-Signature-256"],
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }
    response, _ = await post(mw, headers, GITHUB["body"].encode())
    assert response.status == 200
    assert app.webhooks[0].message_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"X-GitHub-Delivery": "d-1"}, "missing_signature"),
        ({"X-Hub-Signature-256": GITHUB["X-Hub-Signature-256"]}, "missing_signature"),
        ({"X-Hub-Signature-256": GITHUB["X-Hub-Signature-256"][7:], "X-GitHub-Delivery": "d-1"}, "invalid_signature"),
        (
            {"X-Hub-Signature": "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", "X-GitHub-Delivery": "d-1"},
            "missing_signature",
        ),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64, "X-GitHub-Delivery": "d-1"}, "invalid_signature"),
    ],
)
async def test_github_refusals(headers: dict[str, str], code: str) -> None:
    """No SHA-256 header, no prefix, a SHA-1-only request or a wrong digest are refused."""
    mw, app, _ = middleware(GitHub(secrets=[GITHUB["secret"]]))
    response, _ = await post(mw, headers, GITHUB["body"].encode())
    assert response.json()["error"] == code
    assert app.bodies == []


async def test_github_duplicate_delivery_acknowledged_and_failed_delivery_retried() -> None:
    """A re-sent delivery is acknowledged without the app, unless the app failed the first time."""
    failing = middleware(GitHub(secrets=["gh"]))
    mw, app, _ = failing
    app.status = 500
    body = b'{"zen":"Keep it logically awesome."}'
    headers = sign_github("gh", body, delivery="d-42")
    assert (await post(mw, headers, body))[0].status == 500
    app.status = 200
    assert (await post(mw, headers, body))[0].status == 200  # the retry after a 5xx is processed
    response, scope = await post(mw, headers, body)
    assert (response.status, response.body) == (200, b"")
    assert last_event(scope).extra["message_id"] == "d-42"
    assert len(app.bodies) == 2


async def test_github_replay_under_a_fresh_delivery_id_is_still_a_replay() -> None:
    """The delivery GUID is not signed: a captured delivery re-sent with a new GUID is refused as a replay."""
    mw, app, _ = middleware(GitHub(secrets=["gh"], on_replay="reject"))
    body = b'{"action":"opened","number":1}'
    assert (await post(mw, sign_github("gh", body, delivery="d-1"), body))[0].status == 200
    response, _ = await post(mw, sign_github("gh", body, delivery="d-attacker"), body)
    assert (response.status, response.json()["error"]) == (409, "replayed_message")
    assert app.bodies == [body]
