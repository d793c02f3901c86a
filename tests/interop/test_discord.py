"""Discord interactions: Ed25519 as Discord signs (PyNaCl) and as discord-interactions verifies, both ways.

Reference: https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint
"""

from __future__ import annotations

import time

import pytest
from discord_interactions import verify_key
from nacl.signing import SigningKey

from asgi_guard.webhooks import DiscordInteractions, sign_discord
from tests.interop.helpers import deliver

pytestmark = pytest.mark.anyio

BODY = b'{"type":2,"id":"1","application_id":"2","data":{"name":"ping"}}'


async def test_pynacl_signature_is_accepted() -> None:
    """Discord signs ``timestamp + body`` with the application's Ed25519 key: PyNaCl doing so verifies."""
    key = SigningKey.generate()
    stamp = str(int(time.time()))
    signature = key.sign(stamp.encode() + BODY).signature.hex()
    verifier = DiscordInteractions(public_keys=[bytes(key.verify_key).hex()])
    headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp}
    status, app = await deliver(verifier, headers, BODY)
    assert (status, app.bodies) == (200, [BODY])


async def test_our_signature_is_accepted_by_discord_interactions() -> None:
    """discord-interactions' ``verify_key`` accepts ``sign_discord``'s headers, not for another body."""
    seed = SigningKey.generate().encode().hex()
    headers = sign_discord(seed, BODY, int(time.time()))
    public = bytes(SigningKey(bytes.fromhex(seed)).verify_key).hex()
    signature, stamp = headers["X-Signature-Ed25519"], headers["X-Signature-Timestamp"]
    assert verify_key(BODY, signature, stamp, public)
    assert not verify_key(BODY + b" ", signature, stamp, public)


async def test_old_timestamp_disagreement() -> None:
    """Disagreement: discord-interactions never checks the timestamp, we refuse one older than five
    minutes by default. Discord's docs only require the signature check
    (https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers);
    ``DiscordInteractions(tolerance=None)`` behaves like the library, the default adds replay protection."""
    key = SigningKey.generate()
    stamp = str(int(time.time()) - 3600)
    signature = key.sign(stamp.encode() + BODY).signature.hex()
    public = bytes(key.verify_key).hex()
    assert verify_key(BODY, signature, stamp, public)
    headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp}
    assert (await deliver(DiscordInteractions(public_keys=[public]), headers, BODY))[0] == 401
    assert (await deliver(DiscordInteractions(public_keys=[public], tolerance=None), headers, BODY))[0] == 200
