"""Interop (issue 18): id_tokens minted by authlib's authorization server (``OpenIDCode``) pass our validation."""

from __future__ import annotations

import time

import pytest
from joserfc import jws

from asgi_guard.oauth import ProviderClient, validate_id_token
from tests.oauth.conftest import Stack, query

pytestmark = [pytest.mark.anyio, pytest.mark.server]


@pytest.mark.parametrize("provider", ["twitch", "slack", "google"])
async def test_authlib_minted_id_token_is_accepted(
    stack: Stack, clients: dict[str, ProviderClient], provider: str
) -> None:
    """A code exchanged at authlib's server yields an RS256 id_token with kid, nonce and at_hash; it validates."""
    client = clients[provider]
    async with stack.client() as browser:
        code = query(await stack.approve(browser, await stack.start(browser, provider)))["code"]
        (sealed,) = [value for name, value in browser.cookies.items() if name.startswith("oauth-")]
    flow = stack.app.flows.open(sealed, now=time.time())  # the test knows the flow secret
    assert flow is not None
    tokens = await client.exchange(code, f"{stack.base}/auth/{provider}/callback", verifier=flow.verifier)
    header = jws.extract_compact(tokens.id_token.encode()).protected
    assert header["alg"] == "RS256"
    assert header["kid"] == stack.idps[provider].key.kid
    claims = await validate_id_token(
        client.provider, tokens.id_token, nonce=flow.nonce, access_token=tokens.access_token, jwks=client.jwks
    )
    assert claims["nonce"] == flow.nonce
    assert claims["aud"] == client.provider.client_id
    assert claims["iss"] == client.provider.issuer
    assert "at_hash" in claims  # computed by authlib, checked by CodeIDToken
