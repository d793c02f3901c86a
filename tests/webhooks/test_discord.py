"""Discord interactions: Ed25519 over timestamp + body, 401 for every failure, inline PONG."""

from __future__ import annotations

import pytest
from nacl.signing import VerifyKey

from asgi_guard.errors import ConfigurationError
from asgi_guard.webhooks import DiscordInteractions, discord_public_key, sign_discord
from tests.webhooks.helpers import NOW, VECTORS, last_event, middleware, post

pytestmark = pytest.mark.anyio

VECTOR = VECTORS["discord-rfc8032-key"]
PUBLIC = VECTOR["public_key"]
STAMP = VECTOR["X-Signature-Timestamp"]
OTHER_PRIVATE = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"  # RFC 8032 TEST 2


def test_key_pair_is_rfc8032_test1() -> None:
    """The test key is RFC 8032 TEST 1: its public key and empty-message signature match the RFC."""
    assert discord_public_key(VECTOR["private_key"]) == PUBLIC
    VerifyKey(bytes.fromhex(PUBLIC)).verify(b"", bytes.fromhex(VECTOR["rfc8032_empty_message_signature"]))


async def test_ping_is_answered_with_pong() -> None:
    """A signed PING gets {"type": 1} as JSON without reaching the app."""
    mw, app, _ = middleware(DiscordInteractions(public_keys=[PUBLIC]))
    headers = {"X-Signature-Ed25519": VECTOR["ping_signature"], "X-Signature-Timestamp": STAMP}
    response, scope = await post(mw, headers, VECTOR["ping_body"].encode())
    assert (response.status, response.json()) == (200, {"type": 1})
    assert response.headers["content-type"] == "application/json"
    assert last_event(scope).reason == "ping"
    assert app.bodies == []


async def test_command_reaches_app() -> None:
    """A signed application command reaches the app with its exact body."""
    mw, app, _ = middleware(DiscordInteractions(public_keys=[PUBLIC]))
    headers = {"X-Signature-Ed25519": VECTOR["command_signature"], "X-Signature-Timestamp": STAMP}
    body = VECTOR["command_body"].encode()
    assert (await post(mw, headers, body))[0].body == b"app"
    assert app.bodies == [body]
    assert app.webhooks[0].provider == "discord"


async def test_ping_goes_to_app_when_disabled() -> None:
    """With answer_ping off the PING is the app's to answer."""
    mw, _app, _ = middleware(DiscordInteractions(public_keys=[PUBLIC], answer_ping=False))
    headers = {"X-Signature-Ed25519": VECTOR["ping_signature"], "X-Signature-Timestamp": STAMP}
    assert (await post(mw, headers, VECTOR["ping_body"].encode()))[0].body == b"app"


async def test_non_json_body_goes_to_app() -> None:
    """A signed body that is not an interaction object is passed on rather than guessed at."""
    mw, _app, _ = middleware(DiscordInteractions(public_keys=[PUBLIC]))
    body = b"\xff not json"
    assert (await post(mw, sign_discord(VECTOR["private_key"], body, int(NOW)), body))[0].body == b"app"


async def test_rotation_accepts_either_key() -> None:
    """With two public keys, signatures from either private key verify."""
    mw, _app, _ = middleware(DiscordInteractions(public_keys=[discord_public_key(OTHER_PRIVATE), PUBLIC]))
    body = b'{"type":2}'
    for private in (VECTOR["private_key"], OTHER_PRIVATE):
        assert (await post(mw, sign_discord(private, body, int(NOW)), body))[0].status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Signature-Timestamp": STAMP},
        {"X-Signature-Ed25519": VECTOR["ping_signature"]},
        {"X-Signature-Ed25519": VECTOR["ping_signature"][:-2], "X-Signature-Timestamp": STAMP},
        {"X-Signature-Ed25519": "zz" * 64, "X-Signature-Timestamp": STAMP},
        {"X-Signature-Ed25519": VECTOR["ping_signature"], "X-Signature-Timestamp": "1700000001"},
        {"X-Signature-Ed25519": VECTOR["ping_signature"], "X-Signature-Timestamp": "soon"},
        {"X-Signature-Ed25519": VECTOR["ping_signature"], "X-Signature-Timestamp": "1600000000"},
        {"X-Signature-Ed25519": VECTOR["command_signature"], "X-Signature-Timestamp": STAMP},
        [
            ("X-Signature-Ed25519", VECTOR["ping_signature"]),
            ("X-Signature-Ed25519", VECTOR["ping_signature"]),
            ("X-Signature-Timestamp", STAMP),
        ],
        {"X-Signature-Ed25519": "x" * 5000, "X-Signature-Timestamp": STAMP},
    ],
)
async def test_every_failure_is_401(headers: object) -> None:
    """Missing, malformed, duplicated, stale or wrong signatures all get 401, as Discord's probes expect."""
    mw, app, _ = middleware(DiscordInteractions(public_keys=[PUBLIC]))
    response, scope = await post(mw, headers, VECTOR["ping_body"].encode())  # type: ignore[arg-type]
    assert response.status == 401
    assert response.json()["error"] in {"missing_signature", "invalid_signature", "stale_timestamp"}
    assert last_event(scope).extra["provider"] == "discord"
    assert app.bodies == []


async def test_replayed_interaction_is_refused() -> None:
    """The same signed interaction twice inside the window is a 409 the second time."""
    mw, app, _ = middleware(DiscordInteractions(public_keys=[PUBLIC]))
    headers = {"X-Signature-Ed25519": VECTOR["command_signature"], "X-Signature-Timestamp": STAMP}
    body = VECTOR["command_body"].encode()
    await post(mw, headers, body)
    response, _ = await post(mw, headers, body)
    assert (response.status, response.json()["error"]) == (409, "replayed_message")
    assert len(app.bodies) == 1


async def test_without_tolerance_old_timestamps_pass_and_nothing_is_deduplicated() -> None:
    """tolerance=None follows Discord's libraries: any timestamp, no dedupe."""
    mw, app, clock = middleware(DiscordInteractions(public_keys=[PUBLIC], tolerance=None))
    clock.advance(10_000)
    headers = {"X-Signature-Ed25519": VECTOR["command_signature"], "X-Signature-Timestamp": STAMP}
    body = VECTOR["command_body"].encode()
    for _ in range(2):
        assert (await post(mw, headers, body))[0].status == 200
    assert len(app.bodies) == 2


@pytest.mark.parametrize("keys", [[], "d75a98", ["abc"], ["zz" * 32], [b"\x00" * 32], PUBLIC])
def test_bad_public_keys_are_configuration_errors(keys: object) -> None:
    """Public keys must be a list of 64-hex-character Ed25519 keys."""
    with pytest.raises(ConfigurationError, match="public_keys"):
        DiscordInteractions(public_keys=keys)  # type: ignore[arg-type]


def test_bad_tolerance_is_configuration_error() -> None:
    """A non-positive tolerance is refused at construction."""
    with pytest.raises(ConfigurationError, match="tolerance"):
        DiscordInteractions(public_keys=[PUBLIC], tolerance=0)
