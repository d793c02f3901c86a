"""The whole login flow over real HTTP against each provider's stand-in (authlib's authorization server)."""

from __future__ import annotations

import pytest

from tests.oauth.conftest import FLAVORS, Stack, query

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


async def test_authorization_requests_carry_each_providers_parameters(stack: Stack) -> None:
    """What the browser is sent to: PKCE S256 where the provider supports it, nonce for OIDC, Google's
    offline access and consent prompt, Twitch's claims request, and the configured redirect URI."""
    async with stack.client() as client:
        urls = {name: query(await stack.start(client, name)) for name in FLAVORS}
    for name, params in urls.items():
        assert params["redirect_uri"] == f"{stack.base}/auth/{name}/callback"
        assert params["response_type"] == "code"
        assert len(params["state"]) >= 43
    assert urls["discord"]["code_challenge_method"] == urls["google"]["code_challenge_method"] == "S256"
    assert "code_challenge" not in urls["twitch"]
    assert "code_challenge" not in urls["slack"]
    assert "nonce" not in urls["discord"]
    assert all("nonce" in urls[name] for name in ("twitch", "slack", "google"))
    assert (urls["google"]["access_type"], urls["google"]["prompt"]) == ("offline", "consent")
    assert "preferred_username" in urls["twitch"]["claims"]
    assert urls["discord"]["scope"] == "identify email"
    assert urls["slack"]["scope"] == "openid email profile"
