"""The layers the reliability harness stacks with ``asgi_guard.guard(...)``, and what each guarantees.

Each :class:`LayerSpec` says how to configure one layer, which request headers make a request pass
it (so the fuzzer can build requests that reach the app), which hostile values to try on those
headers, and what the app must be able to verify about any request that reached it. The app runs
every active layer's ``admits`` check on every request it is handed: a request that got through
without meeting a configured check is a bypass, and the fuzz test fails on it.

Every layer is always active: a config that no longer matches the layer's API fails loudly rather
than quietly dropping the layer from the fuzzed stack.

ADD OR ADAPT LAYERS HERE: :data:`LAYERS` below lists the specs, which live in
:mod:`tests.reliability.identity_layers` (events, auth, tenancy, RBAC) and
:mod:`tests.reliability.request_layers` (rate limiting, webhooks, validation).
"""

from __future__ import annotations

import importlib
from typing import Any, Final

from tests.reliability.identity_layers import AUTH, EVENTS, RBAC, TENANCY, valid_api_key
from tests.reliability.request_layers import RATELIMIT, VALIDATION, WEBHOOKS
from tests.reliability.spec import ACTION_PATH, MODERATE_PATH, ROUTES, WEBHOOK_PATH, LayerSpec

LAYERS: Final[tuple[LayerSpec, ...]] = (EVENTS, AUTH, TENANCY, RBAC, RATELIMIT, WEBHOOKS, VALIDATION)
"""Every layer the harness knows; the fuzzed stack is made of those that are present."""


def active_layers() -> list[LayerSpec]:
    """Every layer of :data:`LAYERS`; a missing package is an error, never a silently smaller stack."""
    for spec in LAYERS:
        importlib.import_module(spec.module)
    return list(LAYERS)


def build_stack(app: Any, layers: list[LayerSpec]) -> Any:
    """``asgi_guard.guard(app, ...)`` with every given layer's config."""
    guard = importlib.import_module("asgi_guard").guard
    return guard(app, *(spec.config() for spec in layers))


__all__ = (
    "ACTION_PATH",
    "LAYERS",
    "MODERATE_PATH",
    "ROUTES",
    "WEBHOOK_PATH",
    "LayerSpec",
    "active_layers",
    "build_stack",
    "valid_api_key",
)
