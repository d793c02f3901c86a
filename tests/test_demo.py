"""The demo app works as its banner says: the printed credentials and curl lines do what they claim."""

from __future__ import annotations

import shlex
import time

import httpx
import msgspec
import pytest

from asgi_guard.demo import COMMUNITY_ID, build_demo
from asgi_guard.demo.app import WEBHOOK_RATE
from asgi_guard.webhooks import sign_twitch

pytestmark = pytest.mark.anyio


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")  # type: ignore[arg-type]


async def test_anonymous_request_gets_401_with_bearer_challenge() -> None:
    """An anonymous profile request is refused with the JSON error and a Bearer challenge."""
    demo = build_demo()
    async with _client(demo.app) as client:
        response = await client.get("/api/v1/profile")
    assert response.status_code == 401
    assert response.json()["error"] == "missing_credentials"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "x-request-id" in response.headers


async def test_printed_credentials_work() -> None:
    """The user token and the API key printed by the demo authenticate."""
    demo = build_demo()
    async with _client(demo.app) as client:
        by_token = await client.get("/api/v1/profile", headers={"Authorization": f"Bearer {demo.user_token}"})
        by_key = await client.get("/api/v1/profile", headers={"X-API-Key": demo.api_key})
    assert by_token.status_code == 200
    assert by_token.json()["id"] == "user-1"
    assert by_key.status_code == 200
    assert by_key.json()["method"] == "api_key"


async def test_banner_webhook_curl_lines_are_valid() -> None:
    """The signed curl lines printed for the generic and Twitch webhooks are accepted as printed."""
    demo = build_demo()
    banner = demo.banner("http://127.0.0.1:8000")
    lines = [line for line in banner.splitlines() if "/webhook/" in line]
    assert len(lines) == 2
    async with _client(demo.app) as client:
        for line in lines:
            words = shlex.split(line)
            url = next(word for word in words if word.startswith("http://"))
            headers = dict(words[index + 1].split(": ", 1) for index, word in enumerate(words) if word == "-H")
            body = words[words.index("--data-binary") + 1].encode()
            response = await client.post(url, headers=headers, content=body)
            assert response.status_code == 200, (line, response.text)
    assert "X-Community-ID" in banner
    assert COMMUNITY_ID in banner


async def test_security_txt_is_served() -> None:
    """The demo serves RFC 9116 security.txt."""
    demo = build_demo()
    async with _client(demo.app) as client:
        response = await client.get("/.well-known/security.txt")
    assert response.status_code == 200
    assert "Contact: mailto:security@example.invalid" in response.text


async def test_validated_action_and_moderation_routes() -> None:
    """The API key runs a validated action (HTML stripped); the moderator's timeout is validated too."""
    demo = build_demo()
    headers = {"X-API-Key": demo.api_key, "X-Community-ID": COMMUNITY_ID}
    async with _client(demo.app) as client:
        ok = await client.post(
            "/api/v1/action/execute",
            headers=headers,
            json={"command": "shoutout", "user_id": "twitch:9", "message": "<b>hi</b> there"},
        )
        bad = await client.post("/api/v1/action/execute", headers=headers, json={"command": "x y", "user_id": "9"})
        moderation = await client.post(
            f"/api/v1/communities/{COMMUNITY_ID}/moderation",
            headers={"Authorization": f"Bearer {demo.moderator_token}", "X-Community-ID": COMMUNITY_ID},
            json={"action": "timeout", "target_user_id": "twitch:7", "duration_seconds": 600},
        )
    assert ok.status_code == 200, ok.text
    assert ok.json()["executed"]["message"] == "hi there"
    assert bad.status_code == 400
    assert bad.json()["error"] == "validation_error"
    assert moderation.status_code == 200, moderation.text


async def test_rbac_and_community_scoping() -> None:
    """A plain user cannot moderate, a moderator cannot reach another community, the admin reaches admin routes."""
    demo = build_demo()
    body = {"action": "timeout", "target_user_id": "twitch:7", "duration_seconds": 600}
    async with _client(demo.app) as client:
        as_user = await client.post(
            f"/api/v1/communities/{COMMUNITY_ID}/moderation",
            headers={"Authorization": f"Bearer {demo.user_token}", "X-Community-ID": COMMUNITY_ID},
            json=body,
        )
        elsewhere = await client.post(
            "/api/v1/communities/7/moderation",
            headers={"Authorization": f"Bearer {demo.moderator_token}", "X-Community-ID": "7"},
            json=body,
        )
        admin = await client.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {demo.admin_token}"})
        not_admin = await client.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {demo.moderator_token}"})
        missing = await client.post("/api/v1/action/execute", headers={"X-API-Key": demo.api_key}, json={})
    assert as_user.status_code == 403
    assert as_user.json()["error"] == "insufficient_permissions"
    assert 'error="insufficient_scope"' in as_user.headers["www-authenticate"]
    assert elsewhere.status_code == 403
    assert elsewhere.json()["error"] == "community_forbidden"
    assert admin.status_code == 200
    assert not_admin.status_code == 403
    assert missing.status_code == 400
    assert missing.json()["error"] == "missing_community_id"


async def test_rate_limit_headers_and_per_command_limit() -> None:
    """Every response carries X-RateLimit headers; the 11th run of one command in a minute gets 429."""
    demo = build_demo()
    headers = {"X-API-Key": demo.api_key, "X-Community-ID": COMMUNITY_ID}
    body = {"command": "shoutout", "user_id": "twitch:9"}
    async with _client(demo.app) as client:
        anonymous = await client.get("/api/v1/profile")
        statuses = [(await client.post("/api/v1/action/execute", headers=headers, json=body)) for _ in range(11)]
        other = await client.post("/api/v1/action/execute", headers=headers, json={**body, "command": "uptime"})
    assert "x-ratelimit-limit" in anonymous.headers
    assert [r.status_code for r in statuses[:10]] == [200] * 10
    assert statuses[10].status_code == 429
    assert statuses[10].json()["error"] == "rate_limit_exceeded"
    assert int(statuses[10].headers["retry-after"]) > 0
    assert other.status_code == 200


async def test_verified_webhooks_are_limited_per_provider_not_by_caller_ip() -> None:
    """Issue 11 item 2: 150 Twitch deliveries from one address (more than the anonymous tier's 100 and
    than the IP limit would leave) all reach the app; they count against the provider's bucket."""
    demo = build_demo()
    body = b'{"subscription":{"type":"channel.follow"},"event":{"user_id":"1"}}'
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    async with _client(demo.app) as client:
        responses = [
            await client.post(
                "/webhook/twitch",
                content=body,
                headers=sign_twitch(demo.twitch_secret, body, message_id=f"m-{index}", timestamp=stamp),
            )
            for index in range(150)
        ]
        unsigned = await client.post("/webhook/twitch", content=body)
        health = await client.get("/health")
    assert [response.status_code for response in responses] == [200] * 150
    assert responses[-1].headers["x-ratelimit-limit"] == WEBHOOK_RATE.split("/")[0]
    assert int(responses[-1].headers["x-ratelimit-remaining"]) < int(WEBHOOK_RATE.split("/")[0])
    assert (unsigned.status_code, unsigned.json()["error"]) == (401, "missing_signature")
    assert int(health.headers["x-ratelimit-remaining"]) > 990  # webhooks never drew on the caller's IP budget


async def test_twenty_bad_tokens_get_429_and_a_suspicious_activity_line(caplog: pytest.LogCaptureFixture) -> None:
    """Twenty bad tokens from one client get 401 each, then 429; the security log has suspicious_activity."""
    demo = build_demo()
    statuses = []
    with caplog.at_level("INFO", logger="asgi_guard.security"):
        async with _client(demo.app) as client:
            for number in range(25):
                response = await client.get("/api/v1/profile", headers={"Authorization": f"Bearer bad-{number}"})
                statuses.append(response.status_code)
    assert statuses == [401] * 20 + [429] * 5
    assert response.headers["retry-after"]
    lines = [record.getMessage() for record in caplog.records if '"suspicious_activity"' in record.getMessage()]
    assert [msgspec.json.decode(line)["reason"] for line in lines] == ["credential_stuffing", "repeated_failures"]
    assert demo.extra["abuse_actions"][0].startswith("suspicious_activity credential_stuffing (5 in 600s")


async def test_the_hook_revokes_a_leaked_token_family(capsys: pytest.CaptureFixture[str]) -> None:
    """A token used from ten addresses trips leaked_credential; the demo's hook revokes it and says so."""
    demo = build_demo()
    headers = {"Authorization": f"Bearer {demo.user_token}"}
    for number in range(10):
        transport = httpx.ASGITransport(app=demo.app, client=(f"198.51.100.{number}", 5000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            response = await client.get("/api/v1/profile", headers=headers)
        assert response.status_code == 200
    assert "suspicious_activity leaked_credential (10 in 600s" in capsys.readouterr().out
    async with _client(demo.app) as client:
        response = await client.get("/api/v1/profile", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "token_revoked"
