"""Configuration of the webhooks layer: which paths carry which signature scheme."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from asgi_guard._routing import Template
from asgi_guard.errors import ConfigurationError
from asgi_guard.options import check_clock, check_error_format
from asgi_guard.webhooks._base import Verifier
from asgi_guard.webhooks.replay import ReplayStore

if TYPE_CHECKING:
    from asgi_guard.clock import Clock
    from asgi_guard.options import ErrorFormat

DEFAULT_MAX_BODY: int = 1024 * 1024


class WebhookConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Signature verification for webhook routes.

    Attributes:
        routes: path template (Starlette syntax, matched on the route path, any method) to the
            verifier of that route, e.g. ``{"/webhook/twitch": TwitchEventSub(secrets=[...])}``.
            Other paths pass through untouched.
        max_body_bytes: largest body buffered for verification (413 ``payload_too_large`` beyond).
        replay_store: where seen deliveries are remembered (``None``: a bounded in-memory store per
            middleware instance; use :class:`RedisReplayStore` with several workers).
        clock: time source for timestamp windows (``None``: the system clock).
        error_format: ``json`` or RFC 9457 ``problem`` bodies for refusals.
    """

    routes: dict[str, Verifier]
    max_body_bytes: int = DEFAULT_MAX_BODY
    replay_store: ReplayStore | None = None
    clock: Clock | None = None
    error_format: ErrorFormat = "json"

    def __post_init__(self) -> None:
        if not isinstance(self.routes, dict) or not self.routes:
            raise ConfigurationError.expected(
                "a non-empty dict of path -> verifier", self.routes, "WebhookConfig.routes"
            )
        for path, verifier in self.routes.items():
            if not isinstance(path, str):
                raise ConfigurationError.expected("a path template string", path, "WebhookConfig.routes")
            Template(path)  # raises ConfigurationError for a malformed template
            if not isinstance(verifier, Verifier) or type(verifier) is Verifier:
                raise ConfigurationError.expected(
                    "a verifier (GenericHMAC, TwitchEventSub, ...)",
                    type(verifier).__name__,
                    f"WebhookConfig.routes[{path!r}]",
                )
        size = self.max_body_bytes
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigurationError.expected("a positive integer", size, "WebhookConfig.max_body_bytes")
        if self.replay_store is not None and not isinstance(self.replay_store, ReplayStore):
            raise ConfigurationError.expected(
                "a ReplayStore (remember/forget)", type(self.replay_store).__name__, "WebhookConfig.replay_store"
            )
        check_error_format(self.error_format, "WebhookConfig.error_format")
        check_clock(self.clock, "WebhookConfig.clock")


__all__ = ("DEFAULT_MAX_BODY", "WebhookConfig")
