"""Layer specs of the identity layers: events, authentication, tenancy, RBAC (see :mod:`.layers`)."""

from __future__ import annotations

import functools
from typing import Any, Final

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
)
from tests.reliability.spec import (
    ACTION_PATH,
    ADMIN_PATH,
    MODERATE_PATH,
    MODERATE_TEMPLATE,
    PROFILE_PATH,
    ROUTES,
    SAFE_REQUEST_ID,
    WEBHOOK_PATH,
    LayerSpec,
    Scope,
)

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
def valid_api_key() -> str:
    """A well-formed key, made once per run (its checksum is real, so it passes the format check)."""
    from asgi_guard.auth import create_api_key

    return create_api_key()


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
    key = valid_api_key().encode()
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
        b"x-api-key": lambda body: [valid_api_key().encode()],
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


OTHER_MODERATE_PATH: Final = MODERATE_PATH.replace(f"/{COMMUNITY}/", "/43/")
if OTHER_MODERATE_PATH not in ROUTES:  # the spec must keep sending requests to the second community
    raise AssertionError(f"{OTHER_MODERATE_PATH} missing from ROUTES")


def _rbac_admits(scope: Scope, body: bytes) -> str | None:
    path, method = scope.get("path"), scope.get("method")
    bearer = get_all(scope, b"authorization")
    if path == ADMIN_PATH and bearer != [b"Bearer " + ADMIN_TOKEN.encode()]:
        return "a non-admin reached the admin route"
    if path == MODERATE_PATH and bearer not in ([BEARERS[0]], [BEARERS[1]]):
        return "a non-moderator reached the moderation route"
    if path == OTHER_MODERATE_PATH and bearer != [BEARERS[1]]:
        return "a non-admin reached another community's moderation route"  # only the admin override may
    if path not in (PROFILE_PATH, ADMIN_PATH, ACTION_PATH, MODERATE_PATH, OTHER_MODERATE_PATH, WEBHOOK_PATH):
        return f"an unlisted route {path!r} was reached although unlisted routes are denied"
    if path in (ACTION_PATH, MODERATE_PATH, OTHER_MODERATE_PATH) and method != "POST":
        return f"{method} reached a POST-only route"
    return None


RBAC = LayerSpec(name="rbac", module="asgi_guard.rbac", config=_rbac_config, admits=_rbac_admits)


__all__ = ("AUTH", "BEARERS", "EVENTS", "RBAC", "TENANCY", "valid_api_key")
