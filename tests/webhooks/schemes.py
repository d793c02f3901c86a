"""Every scheme once, as a verifier and a signer producing a valid header dict for a body (the
fuzz and the malformed-header tables both run over it)."""

from __future__ import annotations

from collections.abc import Callable

from asgi_guard.webhooks import (
    DiscordInteractions,
    GenericHMAC,
    GitHub,
    Slack,
    StandardWebhooks,
    Stripe,
    TimestampedHMAC,
    TwitchEventSub,
    Verifier,
    discord_public_key,
    sign_discord,
    sign_generic,
    sign_github,
    sign_slack,
    sign_standard,
    sign_stripe,
    sign_timestamped,
    sign_twitch,
)
from tests.webhooks.helpers import NOW

SECRET = "fuzz-secret-0123456789"
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DISCORD_PRIVATE = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
STAMP = int(NOW)
RFC_STAMP = "2023-11-14T22:13:20.5Z"


def _svix(body: bytes) -> dict[str, str]:
    signed = sign_standard(SW_SECRET, body, message_id="msg_1", timestamp=STAMP)
    return {name.replace("webhook-", "svix-"): value for name, value in signed.items()}


SCHEMES: dict[str, tuple[Verifier, Callable[[bytes], dict[str, str]]]] = {
    "generic": (GenericHMAC(secrets=[SECRET]), lambda body: sign_generic(SECRET, body)),
    "timestamped": (TimestampedHMAC(secrets=[SECRET]), lambda body: sign_timestamped(SECRET, body, STAMP)),
    "twitch": (
        TwitchEventSub(secrets=[SECRET]),
        lambda body: sign_twitch(SECRET, body, message_id="m-1", timestamp=RFC_STAMP),
    ),
    "discord": (
        DiscordInteractions(public_keys=[discord_public_key(DISCORD_PRIVATE)]),
        lambda body: sign_discord(DISCORD_PRIVATE, body, STAMP),
    ),
    "slack": (Slack(secrets=[SECRET]), lambda body: sign_slack(SECRET, body, STAMP)),
    "github": (GitHub(secrets=[SECRET]), lambda body: sign_github(SECRET, body, delivery="d-1")),
    "stripe": (Stripe(secrets=[SECRET]), lambda body: sign_stripe(SECRET, body, STAMP)),
    "standard": (
        StandardWebhooks(secrets=[SW_SECRET]),
        lambda body: sign_standard(SW_SECRET, body, message_id="msg_1", timestamp=STAMP),
    ),
    "svix": (StandardWebhooks(secrets=[SW_SECRET]), _svix),
}
