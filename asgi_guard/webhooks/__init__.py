"""Webhook signature verification: one module per provider scheme, replay stores, the middleware.

Usage::

    WebhookMiddleware(app, WebhookConfig(routes={
        "/webhook/twitch": TwitchEventSub(secrets=["..."]),
        "/webhook/github": GitHub(secrets=["..."]),
    }))
"""

from __future__ import annotations

from asgi_guard.webhooks._base import FailMode, OnReplay, Verifier
from asgi_guard.webhooks.config import WebhookConfig
from asgi_guard.webhooks.discord import DiscordInteractions
from asgi_guard.webhooks.generic import GenericHMAC, TimestampedHMAC
from asgi_guard.webhooks.github import GitHub
from asgi_guard.webhooks.middleware import WebhookMiddleware
from asgi_guard.webhooks.replay import MemoryReplayStore, RedisReplayStore, ReplayStore, ReplayStoreUnavailable
from asgi_guard.webhooks.signing import (
    curl_command,
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
from asgi_guard.webhooks.slack import Slack
from asgi_guard.webhooks.standard import StandardWebhooks
from asgi_guard.webhooks.stripe import Stripe
from asgi_guard.webhooks.twitch import TwitchEventSub
from asgi_guard.webhooks.verified import VerifiedWebhook, get_webhook

__all__ = (
    "DiscordInteractions",
    "FailMode",
    "GenericHMAC",
    "GitHub",
    "MemoryReplayStore",
    "OnReplay",
    "RedisReplayStore",
    "ReplayStore",
    "ReplayStoreUnavailable",
    "Slack",
    "StandardWebhooks",
    "Stripe",
    "TimestampedHMAC",
    "TwitchEventSub",
    "VerifiedWebhook",
    "Verifier",
    "WebhookConfig",
    "WebhookMiddleware",
    "curl_command",
    "discord_public_key",
    "get_webhook",
    "sign_discord",
    "sign_generic",
    "sign_github",
    "sign_slack",
    "sign_standard",
    "sign_stripe",
    "sign_timestamped",
    "sign_twitch",
)
