"""Signers for every scheme: for tests, demos and senders (the same bytes the providers sign).

Each returns the request headers to send with ``body`` (header names as the providers write them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import shlex

from nacl.signing import SigningKey

from asgi_guard.webhooks.standard import decode_secret


def _hex(key: str | bytes, message: bytes) -> str:
    raw = key.encode("utf-8") if isinstance(key, str) else key
    return hmac.new(raw, message, hashlib.sha256).hexdigest()


def sign_generic(secret: str, body: bytes) -> dict[str, str]:
    """Headers for :class:`GenericHMAC`: ``X-Webhook-Signature: sha256=<hex>``."""
    return {"X-Webhook-Signature": "sha256=" + _hex(secret, body)}


def sign_timestamped(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers for :class:`TimestampedHMAC`: the timestamp and the signature of ``<timestamp>.<body>``."""
    stamp = str(int(timestamp))
    return {
        "X-Webhook-Timestamp": stamp,
        "X-Webhook-Signature": "sha256=" + _hex(secret, stamp.encode("ascii") + b"." + body),
    }


def sign_twitch(
    secret: str, body: bytes, *, message_id: str, timestamp: str, message_type: str = "notification"
) -> dict[str, str]:
    """Headers for :class:`TwitchEventSub` (``timestamp`` is RFC 3339, signed as given)."""
    signed = message_id.encode("ascii") + timestamp.encode("ascii") + body
    return {
        "Twitch-Eventsub-Message-Id": message_id,
        "Twitch-Eventsub-Message-Timestamp": timestamp,
        "Twitch-Eventsub-Message-Signature": "sha256=" + _hex(secret, signed),
        "Twitch-Eventsub-Message-Type": message_type,
    }


def sign_discord(private_key_hex: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers for :class:`DiscordInteractions`, signed with a hex Ed25519 seed (Discord keeps the real one)."""
    stamp = str(int(timestamp))
    signed = SigningKey(bytes.fromhex(private_key_hex)).sign(stamp.encode("ascii") + body)
    return {"X-Signature-Ed25519": signed.signature.hex(), "X-Signature-Timestamp": stamp}


def discord_public_key(private_key_hex: str) -> str:
    """The hex public key matching a hex Ed25519 seed (what ``DiscordInteractions.public_keys`` takes)."""
    return bytes(SigningKey(bytes.fromhex(private_key_hex)).verify_key).hex()


def sign_slack(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers for :class:`Slack`: ``v0=<hex>`` over ``v0:<timestamp>:<body>``."""
    stamp = str(int(timestamp))
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + _hex(secret, b"v0:" + stamp.encode("ascii") + b":" + body),
    }


def sign_github(secret: str, body: bytes, *, delivery: str) -> dict[str, str]:
    """Headers for :class:`GitHub`: ``X-Hub-Signature-256`` and the delivery GUID."""
    return {"X-Hub-Signature-256": "sha256=" + _hex(secret, body), "X-GitHub-Delivery": delivery}


def sign_stripe(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers for :class:`Stripe`: ``t=<timestamp>,v1=<hex>`` keyed with the whole ``whsec_`` string."""
    stamp = str(int(timestamp))
    return {"Stripe-Signature": f"t={stamp},v1=" + _hex(secret, stamp.encode("ascii") + b"." + body)}


def sign_standard(secret: str, body: bytes, *, message_id: str, timestamp: int) -> dict[str, str]:
    """Headers for :class:`StandardWebhooks`: id, timestamp and ``v1,<base64>``."""
    stamp = str(int(timestamp))
    signed = message_id.encode("ascii") + b"." + stamp.encode("ascii") + b"." + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode("ascii"),
    }


def curl_command(url: str, headers: dict[str, str], body: bytes) -> str:
    """A copy-pasteable ``curl`` line sending ``body`` (UTF-8 text) with the signed ``headers``."""
    parts = ["curl", "-sS", "-X", "POST", url]
    for name, value in headers.items():
        parts += ["-H", f"{name}: {value}"]
    parts += ["--data-binary", body.decode("utf-8")]
    return " ".join(shlex.quote(part) for part in parts)


__all__ = (
    "curl_command",
    "discord_public_key",
    "sign_discord",
    "sign_generic",
    "sign_github",
    "sign_slack",
    "sign_standard",
    "sign_stripe",
    "sign_timestamped",
    "sign_twitch",
)
