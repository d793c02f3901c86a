"""What the app learns about a verified webhook: ``GuardContext.webhook``, read with :func:`get_webhook`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from asgi_guard.context import CONTEXT_KEY, GuardContext
from asgi_guard.errors import MissingGuardContext


class VerifiedWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery whose signature verified.

    Attributes:
        provider: the scheme that verified it (``twitch``, ``github``, ``generic``, ...).
        message_id: the provider's delivery id ("" when the scheme has none), for idempotency. It is
            signed by Twitch and Standard Webhooks; GitHub's ``X-GitHub-Delivery`` is not (the
            middleware deduplicates GitHub on the body's signature instead).
        route: the configured path template that matched.
    """

    provider: str
    message_id: str
    route: str


def get_webhook(scope_or_request: Any) -> VerifiedWebhook:
    """The verified webhook of this request; raises naming ``WebhookMiddleware`` when there is none."""
    scope = scope_or_request if isinstance(scope_or_request, Mapping) else getattr(scope_or_request, "scope", None)
    ctx = scope.get(CONTEXT_KEY) if isinstance(scope, Mapping) else None
    found = ctx.webhook if isinstance(ctx, GuardContext) else None
    if not isinstance(found, VerifiedWebhook):
        raise MissingGuardContext(
            "No verified webhook on this request: install asgi_guard.WebhookMiddleware "
            "(or WebhookConfig in guard(...)) with a verifier for this route"
        )
    return found


__all__ = ("VerifiedWebhook", "get_webhook")
