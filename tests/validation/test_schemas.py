"""The seed schemas and constrained aliases: the rules the community API relies on."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from asgi_guard.testing import call
from asgi_guard.validation import ExecuteAction, ModerationAction, ValidationConfig, ValidationMiddleware
from tests.validation.apps import echo, post

pytestmark = pytest.mark.anyio

EXECUTE = "/api/v1/action/execute"
MODERATE = "/api/v1/communities/{community_id}/moderation"


def app() -> ValidationMiddleware:
    routes = {("POST", EXECUTE): ExecuteAction, ("POST", MODERATE): ModerationAction}
    return ValidationMiddleware(echo, ValidationConfig(routes=routes))


async def send(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = await call(app(), post(path), msgspec.json.encode(body))
    return response.status, response.json()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"user_id": "Twitch:1", "command": "a"}, "at `$.user_id`"),
        ({"user_id": "twitch:", "command": "a"}, "at `$.user_id`"),
        ({"user_id": "twitch:1 ", "command": "a"}, "at `$.user_id`"),
        ({"user_id": "twitch:\u0663", "command": "a"}, "at `$.user_id`"),
        ({"user_id": "twitch:1", "command": ""}, "Expected `str` of length >= 1 - at `$.command`"),
        ({"user_id": "twitch:1", "command": "a" * 256}, "Expected `str` of length <= 255 - at `$.command`"),
        ({"user_id": "twitch:1", "command": "rm -rf"}, "at `$.command`"),
        ({"user_id": "twitch:1", "command": "a;b"}, "at `$.command`"),
        ({"user_id": "twitch:1", "command": "a\n"}, "at `$.command`"),
        (
            {"user_id": "twitch:1", "command": "a", "message": "m" * 2001},
            "Expected `str` of length <= 2000 - at `$.message`",
        ),
        ({"user_id": "twitch:1", "command": "a", "args": ["x"] * 21}, "Expected `array` of length <= 20 - at `$.args`"),
        (
            {"user_id": "twitch:1", "command": "a", "args": ["x" * 501]},
            "Expected `str` of length <= 500 - at `$.args[0]`",
        ),
        ({"user_id": "twitch:1", "command": "a", "role": "admin"}, "Object contains unknown field `role` - at `$`"),
    ],
)
async def test_execute_action_rules(body: dict[str, Any], detail: str) -> None:
    """ExecuteAction refuses ids, commands, messages and args outside the seed's rules."""
    status, out = await send(EXECUTE, body)
    assert status == 400
    assert out["error"] == "validation_error"
    assert out["detail"].endswith(detail)


async def test_execute_action_accepts_the_limits_and_sanitises() -> None:
    """Values at the limits pass, and the message is stripped of HTML."""
    body = {"user_id": "discord:0123", "command": "A_b-9" * 51, "message": "<img src=x onerror=alert(1)>" + "m" * 1972}
    status, out = await send(EXECUTE, body)
    assert status == 200
    assert out["payload"]["message"] == "m" * 1972
    assert out["payload"]["args"] == []


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"action": "timeout", "target_user_id": "twitch:5", "duration_seconds": 600}, 200, None),
        ({"action": "ban", "target_user_id": "twitch:5", "reason": "<b>spam</b>"}, 200, None),
        (
            {"action": "timeout", "target_user_id": "twitch:5"},
            400,
            "Expected `duration_seconds` with, and only with, a `timeout`",
        ),
        ({"action": "ban", "target_user_id": "twitch:5", "duration_seconds": 5}, 400, "with, and only with"),
        (
            {"action": "timeout", "target_user_id": "twitch:5", "duration_seconds": 0},
            400,
            "Expected `int` >= 1 - at `$.duration_seconds`",
        ),
        ({"action": "nuke", "target_user_id": "twitch:5"}, 400, "Invalid enum value 'nuke' - at `$.action`"),
        ({"action": "warn", "target_user_id": "twitch:5", "reason": "r" * 501}, 400, "at `$.reason`"),
    ],
)
async def test_moderation_action_rules(body: dict[str, Any], status: int, detail: str | None) -> None:
    """ModerationAction checks the action, its target, the reason and the timeout duration together."""
    got_status, out = await send(MODERATE.replace("{community_id}", "c1"), body)
    assert got_status == status
    if detail is None:
        assert out["payload"]["reason"] == ("spam" if body["action"] == "ban" else "")
    else:
        assert detail in out["detail"]
