"""The whole login flow over real HTTP against each provider's stand-in (authlib's authorization server)."""

from __future__ import annotations

import pytest

from tests.oauth.conftest import FLAVORS, Stack

pytestmark = [pytest.mark.anyio, pytest.mark.server]


@pytest.mark.parametrize("provider", [*FLAVORS, "oauth2", "oidc"])
async def test_login_with_each_provider_issues_our_session(stack: Stack, provider: str) -> None:
    """Login -> provider consent -> callback ends in our token pair, with the identity mapped by the hook."""
    async with stack.client() as client:
        response = await stack.login(client, provider, next="/app/home")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next"] == "/app/home"
    verified = await stack.tokens.verify(body["access_token"])
    identity = stack.identities[-1]
    assert verified.claims["sub"] == f"{provider}:{identity.subject}"
    assert identity.subject == "141981764"
    assert identity.email == "streamer@example.test"
    assert [event.type for event in stack.events if event.result == "allow"] == ["login_started", "login"]
