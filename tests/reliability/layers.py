"""The layers the reliability harness stacks with ``asgi_guard.guard(...)``, and what each guarantees.

Each :class:`LayerSpec` says how to configure one layer, which request headers make a request pass
it (so the fuzzer can build requests that reach the app), which hostile values to try on those
headers, and what the app must be able to verify about any request that reached it. The app runs
every active layer's ``admits`` check on every request it is handed: a request that got through
without meeting a configured check is a bypass, and the fuzz test fails on it.

A layer is active when its package is present (``importlib.util.find_spec``). When it is present,
its config is built for real: a config that no longer matches the layer's API fails loudly rather
than quietly dropping the layer.

ADD OR ADAPT LAYERS AFTER MERGING: the :data:`LAYERS` list below is the one place to edit. The
entries for auth, tenancy, rbac, rate limiting, webhooks and validation are written against the
DESIGN.md API and must be checked against the merged code.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from asgi_guard._headers import get_all
from asgi_guard.context import get_context
from tests.reliability.credentials import (
    ADMIN_TOKEN,
    COMMUNITY,
    HOSTILE_TOKENS,
    JWT_SECRET,
    OTHER_COMMUNITY,
    VALID_TOKEN,
    WEBHOOK_SECRET,
    webhook_signature,
)

Scope = dict[str, Any]
Check = Callable[[Scope, bytes], "str | None"]

SAFE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
WEBHOOK_PATH: Final = "/webhook/generic"
ACTION_PATH: Final = "/api/v1/action/execute"
ADMIN_PATH: Final = "/api/v1/admin/users"
PROFILE_PATH: Final = "/api/v1/profile"
ROUTES: Final = (PROFILE_PATH, ADMIN_PATH, ACTION_PATH, WEBHOOK_PATH, f"/api/v1/communities/{COMMUNITY}/moderate")


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the fuzzed stack.

    Attributes:
        name: for messages.
        module: the package that must be present for the layer to be active.
        config: builds the layer's config (called once per test).
        admits: run by the app on every request it receives: ``None`` when the request really met
            this layer's guarantee, else a description of the bypass.
        valid: header name -> values with which a request passes this layer (the body is passed
            in, for signatures).
        hostile: header name -> hostile values specific to this layer.
        secrets: values the secrets scan must never find in logs or error responses.
    """

    name: str
    module: str
    config: Callable[[], Any]
    admits: Check
    valid: dict[bytes, Callable[[bytes], list[bytes]]] = field(default_factory=dict)
    hostile: dict[bytes, list[bytes]] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


def _one(scope: Scope, name: bytes) -> bytes | None:
    values = get_all(scope, name)
    return values[0] if len(values) == 1 else None


# --- events (foundation) -----------------------------------------------------------------------


def _events_config() -> Any:
    from asgi_guard.events import EventsConfig

    return EventsConfig(log_outcome=True)


def _events_admits(scope: Scope, body: bytes) -> str | None:
    ctx = get_context(scope)
    if not SAFE_REQUEST_ID.fullmatch(ctx.request_id):
        return f"request id {ctx.request_id!r} is not log-safe"
    return None


EVENTS = LayerSpec(
    name="events",
    module="asgi_guard.events",
    config=_events_config,
    admits=_events_admits,
    hostile={
        b"x-request-id": [b"abc\r\nforged: 1", b"\xff\xfe", b"x" * 129, "é".encode(), b"ok-id_1.2:3", b""],
    },
)


# --- authentication (issue 3): ADAPT AFTER MERGE -----------------------------------------------


def _auth_config() -> Any:
    from asgi_guard.auth import AuthConfig, JWTConfig, JWTKey  # type: ignore[import-not-found,unused-ignore]

    return AuthConfig(jwt=JWTConfig(keys=(JWTKey(kid="reliability", secret=JWT_SECRET),)))


def _auth_admits(scope: Scope, body: bytes) -> str | None:
    principal = get_context(scope).principal
    if principal is None:
        return "no principal"
    authorization = get_all(scope, b"authorization")
    if get_all(scope, b"x-api-key"):
        return "a request with two kinds of credentials was let through"
    if authorization not in ([b"Bearer " + VALID_TOKEN.encode()], [b"Bearer " + ADMIN_TOKEN.encode()]):
        return f"authenticated as {principal.id!r} without exactly one valid bearer token"
    return None


AUTH = LayerSpec(
    name="authentication",
    module="asgi_guard.auth",
    config=_auth_config,
    admits=_auth_admits,
    valid={b"authorization": lambda body: [b"Bearer " + VALID_TOKEN.encode(), b"Bearer " + ADMIN_TOKEN.encode()]},
    hostile={
        b"authorization": [b"Bearer " + token.encode() for token in HOSTILE_TOKENS]
        + [b"Bearer", b"Bearer ", b"bearer " + VALID_TOKEN.encode(), b"Basic dXNlcjpwYXNz", b"Bearer  x.y.z"],
        b"x-api-key": [b"wa-" + b"0" * 64, b"wa-zz", b"sk_live_not_ours"],
    },
    secrets=(JWT_SECRET, VALID_TOKEN, ADMIN_TOKEN, *HOSTILE_TOKENS),
)


# --- tenancy (issue 4): ADAPT AFTER MERGE ------------------------------------------------------


def _tenancy_config() -> Any:
    from asgi_guard.tenancy import TenancyConfig  # type: ignore[import-not-found,unused-ignore]

    return TenancyConfig(required_paths=(PROFILE_PATH, ACTION_PATH, "/api/v1/communities/{community_id}/moderate"))


def _tenancy_admits(scope: Scope, body: bytes) -> str | None:
    ctx = get_context(scope)
    if ctx.community_id is None:
        return None  # not a community-scoped route
    principal = ctx.principal
    if principal is None or "admin" in principal.roles:
        return None
    if ctx.community_id not in principal.communities:
        return f"principal {principal.id!r} reached community {ctx.community_id!r} without membership"
    header = get_all(scope, b"x-community-id")
    if header and header != [ctx.community_id.encode()]:
        return f"community header {header!r} disagrees with the resolved {ctx.community_id!r}"
    return None


TENANCY = LayerSpec(
    name="tenancy",
    module="asgi_guard.tenancy",
    config=_tenancy_config,
    admits=_tenancy_admits,
    valid={b"x-community-id": lambda body: [COMMUNITY.encode()]},
    hostile={
        b"x-community-id": [
            OTHER_COMMUNITY.encode(),
            b"-1",
            b"0",
            b"042",
            b"4 2",
            "٤٢".encode(),
            b"9" * 40,
            b"42; drop",
            b"",
        ]
    },
)


# --- rbac (issue 4): ADAPT AFTER MERGE ---------------------------------------------------------


def _rbac_config() -> Any:
    from asgi_guard.rbac import RBACConfig  # type: ignore[import-not-found,unused-ignore]

    return RBACConfig(
        policies=(
            (("GET",), PROFILE_PATH, "profile:view"),
            (("GET", "POST"), ADMIN_PATH, "user:manage"),
            (("POST",), ACTION_PATH, "action:execute"),
            (("POST",), "/api/v1/communities/{community_id}/moderate", "community:moderate"),
        )
    )


def _rbac_admits(scope: Scope, body: bytes) -> str | None:
    if scope.get("path") == ADMIN_PATH and get_all(scope, b"authorization") != [b"Bearer " + ADMIN_TOKEN.encode()]:
        return "a non-admin reached the admin route"
    return None


RBAC = LayerSpec(name="rbac", module="asgi_guard.rbac", config=_rbac_config, admits=_rbac_admits)


# --- rate limiting (issue 5): ADAPT AFTER MERGE ------------------------------------------------


def _ratelimit_config() -> Any:
    from asgi_guard.ratelimit import Limit, MemoryBackend, RateLimitConfig  # type: ignore[import-not-found,unused-ignore]

    return RateLimitConfig(limits=(Limit(name="user", rate="1000/minute", key="user"),), backend=MemoryBackend())


def _ratelimit_admits(scope: Scope, body: bytes) -> str | None:
    decision = get_context(scope).rate_limit
    if decision is None:
        return "no rate-limit decision on an admitted request"
    if getattr(decision, "allowed", True) is False and not getattr(decision, "shadow", False):
        return "a denied rate-limit decision reached the app"
    return None


RATELIMIT = LayerSpec(
    name="rate_limit", module="asgi_guard.ratelimit", config=_ratelimit_config, admits=_ratelimit_admits
)


# --- webhooks (issue 6): ADAPT AFTER MERGE -----------------------------------------------------


def _webhook_config() -> Any:
    from asgi_guard.webhooks import GenericHMAC, WebhookConfig  # type: ignore[import-not-found,unused-ignore]

    return WebhookConfig(routes={WEBHOOK_PATH: GenericHMAC(secrets=(WEBHOOK_SECRET,))})


def _webhook_admits(scope: Scope, body: bytes) -> str | None:
    if scope.get("path") != WEBHOOK_PATH:
        return None
    signature = _one(scope, b"x-webhook-signature")
    if signature is None:
        return "a webhook without exactly one signature header reached the app"
    expected = webhook_signature(body).encode()
    if signature.removeprefix(b"sha256=") != expected:
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


# --- validation (issue 7): ADAPT AFTER MERGE ---------------------------------------------------


class ExecuteAction(msgspec.Struct, forbid_unknown_fields=True):
    """The action-execute payload the validation layer enforces."""

    command: str
    user_id: str


_ACTION_DECODER: Final = msgspec.json.Decoder(ExecuteAction)


def _validation_config() -> Any:
    from asgi_guard.validation import ValidationConfig  # type: ignore[import-not-found,unused-ignore]

    return ValidationConfig(routes={("POST", ACTION_PATH): ExecuteAction})


def _validation_admits(scope: Scope, body: bytes) -> str | None:
    if scope.get("path") != ACTION_PATH or scope.get("method") != "POST":
        return None
    try:
        _ACTION_DECODER.decode(body)
    except msgspec.DecodeError:
        return "an invalid action payload reached the app"
    if get_context(scope).payload is msgspec.UNSET:
        return "the validated payload is missing from the context"
    return None


VALIDATION = LayerSpec(
    name="validation", module="asgi_guard.validation", config=_validation_config, admits=_validation_admits
)


LAYERS: Final[tuple[LayerSpec, ...]] = (EVENTS, AUTH, TENANCY, RBAC, RATELIMIT, WEBHOOKS, VALIDATION)
"""Every layer the harness knows; the fuzzed stack is made of those that are present."""


def active_layers() -> list[LayerSpec]:
    """The layers whose package is present in this checkout."""
    return [spec for spec in LAYERS if importlib.util.find_spec(spec.module) is not None]


def build_stack(app: Any, layers: list[LayerSpec]) -> Any:
    """``asgi_guard.guard(app, ...)`` with every given layer's config."""
    guard = importlib.import_module("asgi_guard").guard
    return guard(app, *(spec.config() for spec in layers))


__all__ = ("LAYERS", "ROUTES", "LayerSpec", "active_layers", "build_stack")
