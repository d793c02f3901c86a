"""The layers the reliability harness stacks with ``asgi_guard.guard(...)``, and what each guarantees.

Each :class:`LayerSpec` says how to configure one layer, which request headers make a request pass
it (so the fuzzer can build requests that reach the app), which hostile values to try on those
headers, and what the app must be able to verify about any request that reached it. The app runs
every active layer's ``admits`` check on every request it is handed: a request that got through
without meeting a configured check is a bypass, and the fuzz test fails on it.

A layer is active when its package is present (``importlib.util.find_spec``). When it is present,
its config is built for real: a config that no longer matches the layer's API fails loudly rather
than quietly dropping the layer.

ADD OR ADAPT LAYERS HERE: the :data:`LAYERS` list at the end is the one place to edit. The entries
for auth, tenancy, rbac, rate limiting, webhooks and validation follow those layers' own branches
(checked against a trial merge of all branches); re-check them after the real merge.
"""

from __future__ import annotations

import functools
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
    JWT_KID,
    JWT_SECRET,
    NON_MEMBER_TOKEN,
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
MODERATE_TEMPLATE: Final = "/api/v1/communities/{community_id}/moderate"
MODERATE_PATH: Final = f"/api/v1/communities/{COMMUNITY}/moderate"
ROUTES: Final = (PROFILE_PATH, ADMIN_PATH, ACTION_PATH, WEBHOOK_PATH, MODERATE_PATH, "/api/v1/communities/43/moderate")


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


# --- authentication (issue 3) -----------------------------------------------------------------


@functools.cache
def valid_api_key() -> str | None:
    """A well-formed key (its checksum needs the auth package), or ``None`` before auth is merged."""
    if importlib.util.find_spec("asgi_guard.auth") is None:
        return None
    return str(importlib.import_module("asgi_guard.auth").create_api_key())


def _auth_config() -> Any:
    from asgi_guard.auth import (  # type: ignore[import-not-found,unused-ignore]
        APIKeyAuth,
        APIKeyRecord,
        AuthConfig,
        JWTAuth,
        KeyRing,
        MemoryAPIKeyStore,
        MemoryRevocationStore,
        hash_api_key,
    )

    key = valid_api_key()
    assert key is not None
    record = APIKeyRecord(key_hash=hash_api_key(key), owner_id="user:3", permissions=frozenset({"profile:view"}))
    return AuthConfig(
        jwt=JWTAuth(
            keyring=KeyRing.single(JWT_SECRET.encode(), kid=JWT_KID),
            revocation=MemoryRevocationStore(),
            issuer=None,
            audience=None,
        ),
        api_key=APIKeyAuth(store=MemoryAPIKeyStore([record]), last_used_interval=0),
        exclude=(WEBHOOK_PATH,),
    )


BEARERS: Final = tuple(b"Bearer " + token.encode() for token in (VALID_TOKEN, ADMIN_TOKEN, NON_MEMBER_TOKEN))


def _auth_admits(scope: Scope, body: bytes) -> str | None:
    if scope.get("path") == WEBHOOK_PATH:
        return None  # excluded: signed by the webhook layer instead
    principal = get_context(scope).principal
    if principal is None:
        return "no principal"
    authorization = get_all(scope, b"authorization")
    api_keys = [value for value in get_all(scope, b"x-api-key") if value.strip()]
    key = (valid_api_key() or "").encode()
    if principal.method == "api_key":
        presented = api_keys + [value[7:] for value in authorization if value[:7].lower() == b"bearer "]
        if presented != [key] or len(authorization) > (0 if api_keys else 1):
            return "authenticated by API key without exactly one valid key"
        return None
    if api_keys or len(authorization) != 1 or authorization[0] not in BEARERS:
        return f"authenticated as {principal.id!r} without exactly one valid bearer token"
    return None


AUTH = LayerSpec(
    name="authentication",
    module="asgi_guard.auth",
    config=_auth_config,
    admits=_auth_admits,
    valid={
        b"authorization": lambda body: list(BEARERS),
        b"x-api-key": lambda body: [key.encode()] if (key := valid_api_key()) else [],
    },
    hostile={
        b"authorization": [b"Bearer " + token.encode() for token in HOSTILE_TOKENS]
        + [b"Bearer", b"Bearer ", b"Basic dXNlcjpwYXNz", b"Bearer  x.y.z", b"Bearer wa-" + b"0" * 64],
        b"x-api-key": [b"wa-" + b"0" * 64, b"wa-zz", b"sk_live_not_ours", b"WA-" + b"a" * 64],
    },
    secrets=(JWT_SECRET, VALID_TOKEN, ADMIN_TOKEN, NON_MEMBER_TOKEN, *HOSTILE_TOKENS),
)


# --- tenancy (issue 4) -------------------------------------------------------------------------


def _tenancy_config() -> Any:
    from asgi_guard.tenancy import TenancyConfig  # type: ignore[import-not-found,unused-ignore]

    return TenancyConfig(routes=(PROFILE_PATH, ACTION_PATH, MODERATE_TEMPLATE))


def _tenancy_admits(scope: Scope, body: bytes) -> str | None:
    ctx = get_context(scope)
    if scope.get("path") in (PROFILE_PATH, ACTION_PATH, MODERATE_PATH) and ctx.community_id is None:
        return "a community-scoped route was reached without a community"
    if ctx.community_id is None:
        return None
    principal = ctx.principal
    if principal is None:
        return "a community was resolved without a principal"
    if "admin" not in principal.roles and ctx.community_id not in principal.communities:
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


# --- rbac (issue 4) ----------------------------------------------------------------------------


def _rbac_config() -> Any:
    from asgi_guard.rbac import RBACConfig, RoutePolicy  # type: ignore[import-not-found,unused-ignore]

    return RBACConfig(
        policies=(
            RoutePolicy(path=PROFILE_PATH, permissions=("profile:view",)),
            RoutePolicy(path=ADMIN_PATH, permissions=("user:manage",)),
            RoutePolicy(path=ACTION_PATH, methods=("POST",), permissions=("profile:edit",)),
            RoutePolicy(path=MODERATE_TEMPLATE, methods=("POST",), permissions=("community:moderate",)),
            RoutePolicy(path=WEBHOOK_PATH, public=True),
        ),
        default="deny",
    )


def _rbac_admits(scope: Scope, body: bytes) -> str | None:
    path, method = scope.get("path"), scope.get("method")
    bearer = get_all(scope, b"authorization")
    if path == ADMIN_PATH and bearer != [b"Bearer " + ADMIN_TOKEN.encode()]:
        return "a non-admin reached the admin route"
    if path == MODERATE_PATH and bearer not in ([BEARERS[0]], [BEARERS[1]]):
        return "a non-moderator reached the moderation route"
    if path not in (PROFILE_PATH, ADMIN_PATH, ACTION_PATH, MODERATE_PATH, WEBHOOK_PATH):
        return f"an unlisted route {path!r} was reached although unlisted routes are denied"
    if path in (ACTION_PATH, MODERATE_PATH) and method != "POST":
        return f"{method} reached a POST-only route"
    return None


RBAC = LayerSpec(name="rbac", module="asgi_guard.rbac", config=_rbac_config, admits=_rbac_admits)


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
    signature = _one(scope, b"x-webhook-signature")
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
