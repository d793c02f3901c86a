"""Layer specs of the request layers: rate limiting, webhooks, validation (see :mod:`.layers`)."""

from __future__ import annotations

from typing import Any

import msgspec

from asgi_guard.context import get_context
from tests.reliability.credentials import WEBHOOK_SECRET, webhook_signature
from tests.reliability.spec import ACTION_PATH, WEBHOOK_PATH, LayerSpec, Scope, one_header

# --- rate limiting (issue 5) -------------------------------------------------------------------


def _ratelimit_config() -> Any:
    from asgi_guard.ratelimit import (  # type: ignore[import-not-found,unused-ignore]
        Limit,
        MemoryRateLimitBackend,
        RateLimitConfig,
    )

    return RateLimitConfig(
        limits=(Limit(name="user", rate="1200/minute", key="user"),), backend=MemoryRateLimitBackend()
    )


def _ratelimit_admits(scope: Scope, body: bytes) -> str | None:
    if scope.get("path") == WEBHOOK_PATH and get_context(scope).principal is None:
        return None
    decision = get_context(scope).rate_limit
    if decision is None:
        return "no rate-limit decision on an admitted request"
    if decision.allowed is not True:
        return "a refused rate-limit decision reached the app"
    return None


RATELIMIT = LayerSpec(
    name="rate_limit", module="asgi_guard.ratelimit", config=_ratelimit_config, admits=_ratelimit_admits
)


# --- webhooks (issue 6) ------------------------------------------------------------------------


def _webhook_config() -> Any:
    from asgi_guard.webhooks import GenericHMAC, WebhookConfig  # type: ignore[import-not-found,unused-ignore]

    return WebhookConfig(routes={WEBHOOK_PATH: GenericHMAC(secrets=(WEBHOOK_SECRET,))})


def _webhook_admits(scope: Scope, body: bytes) -> str | None:
    if scope.get("path") != WEBHOOK_PATH:
        return None
    signature = one_header(scope, b"x-webhook-signature")
    if signature is None:
        return "a webhook without exactly one signature header reached the app"
    if signature.strip().lower().removeprefix(b"sha256=") != webhook_signature(body).encode():
        return "a webhook whose signature does not match the body the app received reached the app"
    return None


WEBHOOKS = LayerSpec(
    name="webhooks",
    module="asgi_guard.webhooks",
    config=_webhook_config,
    admits=_webhook_admits,
    valid={b"x-webhook-signature": lambda body: [webhook_signature(body).encode()]},
    hostile={
        b"x-webhook-signature": [
            b"sha256=" + b"0" * 64,
            webhook_signature(b"other body").encode(),
            b"zz" * 32,
            b"sha256=",
            webhook_signature(b"", secret="wrong-secret-but-long-enough").encode(),
        ]
    },
    secrets=(WEBHOOK_SECRET,),
)


# --- validation (issue 7) ----------------------------------------------------------------------


def _validation_config() -> Any:
    from asgi_guard.validation import ExecuteAction, ValidationConfig  # type: ignore[import-not-found,unused-ignore]

    return ValidationConfig(routes={("POST", ACTION_PATH): ExecuteAction})


def _validation_admits(scope: Scope, body: bytes) -> str | None:
    if scope.get("path") != ACTION_PATH or scope.get("method") != "POST":
        return None
    from asgi_guard.validation import ExecuteAction  # type: ignore[import-not-found,unused-ignore]

    try:
        msgspec.json.decode(body, type=ExecuteAction)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return "an invalid action payload reached the app"
    if not isinstance(get_context(scope).payload, ExecuteAction):
        return "the validated payload is missing from the context"
    return None


VALIDATION = LayerSpec(
    name="validation",
    module="asgi_guard.validation",
    config=_validation_config,
    admits=_validation_admits,
    valid={b"content-type": lambda body: [b"application/json"]},
    hostile={b"content-type": [b"text/plain", b"application/json; charset=utf-16", b"application/xml", b""]},
)


__all__ = ("RATELIMIT", "VALIDATION", "WEBHOOKS")
