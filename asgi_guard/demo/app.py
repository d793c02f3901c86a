"""The demo: a small chat-community API behind the whole asgi_guard stack.

Run it with ``python -m asgi_guard demo`` (API keys and revocations in a SQLite file under the temp
dir, so keys made with ``keys new --store`` survive restarts; ``--db URL`` for another database,
``--memory`` for none) or ``... demo --redis URL``. It prints
an admin token, a moderator token, an API key, the community id to send as ``X-Community-ID`` and
ready-to-paste curl lines. Secrets are generated per process: this is a demo, not a deployment.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_guard import get_context, get_principal, guard
from asgi_guard.abuse import AbuseConfig, SuspiciousActivity, failure_limits
from asgi_guard.auth import (
    APIKeyAuth,
    APIKeyRecord,
    AuthConfig,
    JWTAuth,
    KeyRing,
    MemoryAPIKeyStore,
    MemoryRevocationStore,
    RedisRevocationStore,
    TokenService,
    create_api_key,
    hash_api_key,
)
from asgi_guard.clientip import ClientIPConfig
from asgi_guard.context import context_of
from asgi_guard.csrf import CSRFConfig
from asgi_guard.demo.browser import browser_routes
from asgi_guard.demo.oauth import demo_login, login_links
from asgi_guard.events import EventsConfig
from asgi_guard.headers import SecurityHeadersConfig, SecurityTxt
from asgi_guard.ratelimit import (
    Command,
    Limit,
    MemoryRateLimitBackend,
    RateLimitConfig,
    RedisRateLimitBackend,
    tiers,
)
from asgi_guard.rbac import DEFAULT_ROLES, RBACConfig, Role, RoutePolicy
from asgi_guard.sessions import SessionCookies
from asgi_guard.tenancy import TenancyConfig
from asgi_guard.webhooks import (
    GenericHMAC,
    RedisReplayStore,
    TwitchEventSub,
    VerifiedWebhook,
    WebhookConfig,
    get_webhook,
)
from asgi_guard.webhooks.signing import curl_command, sign_generic, sign_twitch

if TYPE_CHECKING:
    from starlette.requests import Request

    from asgi_guard.types import ASGIApp
from asgi_guard.validation import ExecuteAction, ModerationAction, ValidationConfig, get_payload

# The seed's key roles on top of the default hierarchy (admin > community_owner > moderator > user).
ROLES = DEFAULT_ROLES.with_roles(
    Role(name="trigger", permissions=("trigger:webhook",)),
    Role(name="action", permissions=("action:execute",), inherits=("user",)),
    Role(name="core", permissions=("action:execute", "trigger:webhook", "module:configure"), inherits=("user",)),
)

POLICIES = (
    RoutePolicy(path="/health", public=True),
    RoutePolicy(path="/webhook/{provider}", public=True),  # signed, not authenticated: WebhookConfig checks it
    RoutePolicy(path="/api/v1/profile", methods=("GET",), permissions=("profile:view",)),
    RoutePolicy(
        path="/api/v1/communities/{community_id}/moderation", methods=("POST",), permissions=("community:moderate",)
    ),
    RoutePolicy(path="/api/v1/communities/{community_id}/modules", methods=("POST",), permissions=("module:install",)),
    RoutePolicy(path="/api/v1/action/execute", methods=("POST",), permissions=("action:execute",)),
    RoutePolicy(path="/api/v1/admin/users", methods=("GET",), permissions=("admin:users",)),
    # The browser pages: anyone may see the login page and log in; the board needs a session.
    RoutePolicy(path="/", methods=("GET",), public=True),
    RoutePolicy(path="/login", methods=("POST",), public=True),
    RoutePolicy(path="/auth/refresh", methods=("POST",), public=True),
    RoutePolicy(path="/auth/logout", methods=("POST",)),
    RoutePolicy(path="/app", methods=("GET",), permissions=("profile:view",)),
    RoutePolicy(path="/app/notes", methods=("POST",), permissions=("profile:view",)),
    # OAuth login (asgi_guard.demo.oauth) and the bundled local identity providers.
    RoutePolicy(path="/auth/{provider}/login", methods=("GET",), public=True),
    RoutePolicy(path="/auth/{provider}/callback", methods=("GET",), public=True),
    RoutePolicy(path="/idp/{rest:path}", public=True),
)

COMMUNITY_ID = "42"
OTHER_COMMUNITY_ID = "7"
WEBHOOK_ROUTE = "/webhook/{provider}"
WEBHOOK_RATE = "3000/minute"
"""Verified deliveries per provider (whatever address they come from)."""
API_ROUTES = ("/api/{rest:path}",)
"""Where the per-principal tiers apply (anonymous callers there are keyed by address)."""


def webhook_provider(scope: Any) -> str | None:
    """The rate-limit key of a verified webhook delivery: its provider (``None`` elsewhere)."""
    ctx = context_of(scope)
    verified = ctx.webhook if ctx is not None else None
    return verified.provider if isinstance(verified, VerifiedWebhook) else None


@dataclass
class CommunityStore:
    """The demo's data, partitioned by community: every access takes the community from the context."""

    moderation_log: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    modules: dict[str, list[str]] = field(default_factory=dict)
    webhook_deliveries: list[dict[str, Any]] = field(default_factory=list)

    def community(self, request: Request) -> str:
        # The community resolved (and authorized) by the guard; never taken from the client directly.
        return get_context(request).community_id or ""


@dataclass
class Demo:
    """The demo app and what a person needs to try it."""

    app: ASGIApp
    admin_token: str
    moderator_token: str
    user_token: str
    api_key: str
    webhook_secret: str
    twitch_secret: str
    tokens: TokenService
    extra: dict[str, Any] = field(default_factory=dict)

    def banner(self, base: str) -> str:
        """The text printed at start-up: credentials and curl lines with full URLs."""
        body = b'{"event":"message","text":"hello"}'
        generic = curl_command(f"{base}/webhook/generic", sign_generic(self.webhook_secret, body), body)
        twitch_body = b'{"subscription":{"type":"channel.follow"},"event":{"user_id":"1"}}'
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        twitch = curl_command(
            f"{base}/webhook/twitch",
            sign_twitch(self.twitch_secret, twitch_body, message_id=secrets.token_hex(8), timestamp=stamp),
            twitch_body,
        )
        cid = f"-H 'X-Community-ID: {COMMUNITY_ID}'"
        json = "-H 'Content-Type: application/json'"
        moderation = f"{base}/api/v1/communities/{COMMUNITY_ID}/moderation"
        lines = [
            "asgi_guard demo: a community API behind the full stack (demo secrets, generated per process)",
            f"browser: open {base}/ to log in (session in a __Host- cookie), post with CSRF-protected forms, log out",
            "  ... or log in with Twitch, Discord, Slack or YouTube: bundled local identity providers under "
            "/idp/ (set ASGI_GUARD_DEMO_<PROVIDER>_CLIENT_ID and _CLIENT_SECRET for the real ones)",
            f"community id {COMMUNITY_ID} (send it as X-Community-ID); paste the exports first:",
            "",
            f"export ADMIN_TOKEN='{self.admin_token}'",
            f"export MOD_TOKEN='{self.moderator_token}'",
            f"export USER_TOKEN='{self.user_token}'",
            f"export API_KEY='{self.api_key}'",
            "",
            f"curl -i {base}/api/v1/profile                                    # 401, WWW-Authenticate: Bearer",
            f'curl -i -H "Authorization: Bearer $USER_TOKEN" {base}/api/v1/profile',
            f'curl -i -X POST -H "Authorization: Bearer $MOD_TOKEN" {cid} {json} '
            f'-d \'{{"action":"timeout","target_user_id":"twitch:7","duration_seconds":600}}\' {moderation}',
            f'curl -i -X POST -H "Authorization: Bearer $USER_TOKEN" {cid} {json} '
            f'-d \'{{"action":"timeout","target_user_id":"twitch:7","duration_seconds":600}}\' {moderation}   # 403',
            f'curl -i -X POST -H "X-API-Key: $API_KEY" {cid} {json} '
            f'-d \'{{"command":"shoutout","user_id":"twitch:9","message":"<b>hi</b> there"}}\' '
            f"{base}/api/v1/action/execute",
            f'curl -i -H "Authorization: Bearer $ADMIN_TOKEN" {base}/api/v1/admin/users',
            f"for i in $(seq 25); do curl -s -o /dev/null -w '%{{http_code}} ' -H \"Authorization: Bearer bad-$i\" "
            f"{base}/api/v1/profile; done; echo   # 401 x20, then 429 (suspicious_activity in the log)",
            generic,
            twitch,
        ]
        lines.extend(self.extra.get("banner_lines", []))
        return "\n".join(lines)


def build_demo(
    redis_url: str | None = None, db_url: str | None = None, public_url: str = "http://127.0.0.1:8000"
) -> Demo:
    """Build the demo app and its credentials (in-memory backends unless ``redis_url`` is given).

    ``public_url`` is where the demo is reached (the OAuth redirect URIs are built from it).

    With ``db_url`` (``sqlite:///file.db`` or ``postgresql://...``, needs the ``sql`` extra), API keys
    and revocations live in that database: migrated and given the demo key at startup (lifespan).
    """
    store = CommunityStore()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def profile(request: Request) -> JSONResponse:
        principal = get_principal(request)
        return JSONResponse(
            {
                "id": principal.id,
                "username": principal.username,
                "roles": sorted(principal.roles),
                "communities": sorted(principal.communities),
                "method": principal.method,
            }
        )

    async def moderate(request: Request) -> JSONResponse:
        community = store.community(request)
        action = get_payload(request, ModerationAction)
        entry = {"by": get_principal(request).id, "action": action.action, "target": action.target_user_id}
        store.moderation_log.setdefault(community, []).append(entry)
        return JSONResponse({"community": community, "log_size": len(store.moderation_log[community])})

    async def install_module(request: Request) -> JSONResponse:
        community = store.community(request)
        store.modules.setdefault(community, []).append(request.path_params.get("module", "module"))
        return JSONResponse({"community": community, "modules": store.modules[community]})

    async def execute(request: Request) -> JSONResponse:
        action = get_payload(request, ExecuteAction)
        return JSONResponse({"executed": msgspec.to_builtins(action), "community": store.community(request)})

    async def admin_users(request: Request) -> JSONResponse:
        return JSONResponse({"users": ["admin-1", "mod-1", "user-1"]})

    async def webhook(request: Request) -> JSONResponse:
        verified = get_webhook(request)
        store.webhook_deliveries.append({"provider": verified.provider, "id": verified.message_id})
        return JSONResponse({"received": len(await request.body()), "provider": verified.provider})

    routes = [
        Route("/health", health),
        Route("/api/v1/profile", profile),
        Route("/api/v1/communities/{community_id}/moderation", moderate, methods=["POST"]),
        Route("/api/v1/communities/{community_id}/modules", install_module, methods=["POST"]),
        Route("/api/v1/action/execute", execute, methods=["POST"]),
        Route("/api/v1/admin/users", admin_users),
        Route("/webhook/generic", webhook, methods=["POST"]),
        Route("/webhook/twitch", webhook, methods=["POST"]),
    ]
    db: Any = None
    if db_url:
        from asgi_guard.sql import SQLAPIKeyStore, SQLDatabase, SQLRevocationStore, upgrade

        db = SQLDatabase(db_url)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        if db is not None:
            await upgrade(db)
            await key_store.put(demo_record)
        yield
        if db is not None:
            await db.aclose()

    jwt_secret = secrets.token_urlsafe(48)
    keyring = KeyRing.single(jwt_secret, kid="demo-1")
    revocation: Any
    replay_store: Any
    if redis_url:
        from redis.asyncio import Redis

        client = Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        revocation = RedisRevocationStore(client)
        replay_store = RedisReplayStore(client)
        limiter: Any = RedisRateLimitBackend(client)
    else:
        revocation = MemoryRevocationStore()
        replay_store = None
        limiter = MemoryRateLimitBackend()
    if db is not None:
        revocation = SQLRevocationStore(db)
    tokens = TokenService(keyring, revocation, issuer="asgi-guard-demo", audience="community-api")
    # Browser sessions: production cookie flags (browsers accept Secure cookies from http://127.0.0.1
    # and localhost, which they treat as potentially trustworthy origins).
    cookies = SessionCookies()
    notes: list[dict[str, str]] = []
    login = demo_login(public_url, tokens, cookies)
    inner = Starlette(
        routes=[
            *routes,
            *browser_routes(
                tokens, cookies, notes, login_links(), on_logout=login.app.provider_tokens.revoke_provider_tokens
            ),
            *login.routes,
        ],
        lifespan=lifespan,
    )
    actions: list[str] = []

    async def on_suspicious(activity: SuspiciousActivity) -> None:
        # The demo's answer to a pattern: revoke the token family of the request that tripped it (its
        # own jti when it has no family), for as long as a refresh token of it could live.
        claims = activity.principal.claims if activity.principal is not None else {}
        family = claims.get("fam") or claims.get("jti")
        if family:
            await tokens.revocation.revoke(str(family), time.time() + tokens.refresh_ttl)
            done = f"revoked token family {family} of {activity.principal.id}"
        else:
            done = "no valid token presented: nothing to revoke (the failure limits slow the client down)"
        seen = f"{activity.count} in {activity.window}s, {activity.subject}"
        line = f"suspicious_activity {activity.pattern} ({seen}): {done}"
        actions.append(line)
        print(line, flush=True)

    admin_token = tokens.issue_access("admin-1", username="admin", roles=["admin"])
    moderator_token = tokens.issue_access(
        "mod-1", username="mod", roles=["user"], communities={COMMUNITY_ID: ["moderator"]}
    )
    user_token = tokens.issue_access("user-1", username="user", roles=["user"], communities=[COMMUNITY_ID])

    api_key = create_api_key("wa")
    demo_record = APIKeyRecord(
        key_hash=hash_api_key(api_key),
        name="demo-bot",
        owner_id="bot-1",
        role="action",
        owner_roles=frozenset({"user"}),
        permissions=frozenset({"action:execute", "profile:view"}),
        communities={COMMUNITY_ID: frozenset()},
        created_at=time.time(),
    )
    key_store: Any = MemoryAPIKeyStore([demo_record]) if db is None else SQLAPIKeyStore(db)
    webhook_secret = secrets.token_hex(32)
    twitch_secret = secrets.token_hex(32)

    # IP limits run before authentication; tiers and the per-command limit after it. Both share one backend.
    # Webhooks are never limited by caller IP (a provider sends from a few addresses, and a refused
    # delivery is retried): they are exempt from the IP limit, and a verified delivery counts against
    # one bucket per provider instead. Badly signed requests never get that far: the signature check refuses
    # them, and the abuse layer charges those failures to the sender's address.
    ip_limits = RateLimitConfig(
        stage="pre_auth",
        backend=limiter,
        limits=(Limit(name="ip", rate="1000/minute"),),
        exempt_paths=(WEBHOOK_ROUTE,),
    )
    principal_limits = RateLimitConfig(
        backend=limiter,
        limits=(
            tiers({"standard": "100/minute", "premium": "500/minute", "admin": "1000/minute"}, paths=API_ROUTES),
            Limit(name="webhook", rate=WEBHOOK_RATE, key=webhook_provider, paths=(WEBHOOK_ROUTE,)),
            Limit(
                name="command",
                rate="10/minute",
                key="user",
                paths=("/api/v1/action/execute",),
                methods=("POST",),
                command=Command(body_field="command"),
            ),
        ),
    )

    configs: list[Any] = [
        EventsConfig(),
        # The demo is reached directly on loopback: trust no proxy, so X-Forwarded-For is ignored.
        ClientIPConfig(trusted_proxies=()),
        SecurityHeadersConfig.strict_api(
            security_txt=SecurityTxt(
                contact=("mailto:security@example.invalid",),
                expires=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 180 * 86400)),
            )
        ),
        WebhookConfig(
            routes={
                "/webhook/generic": GenericHMAC(secrets=[webhook_secret]),
                "/webhook/twitch": TwitchEventSub(secrets=[twitch_secret]),
            },
            replay_store=replay_store,
        ),
        ip_limits,
        # Failures (bad tokens, keys, signatures, 403s) drain buckets per address and per credential;
        # suspicious patterns go to the security log and to the hook above.
        AbuseConfig(limits=failure_limits(), backend=limiter, on_suspicious=on_suspicious),
        AuthConfig(
            api_key=APIKeyAuth(store=key_store),
            jwt=JWTAuth(keyring=keyring, revocation=revocation, issuer="asgi-guard-demo", audience="community-api"),
            session=cookies,
            exclude=(
                "/health",
                WEBHOOK_ROUTE,
                "/login",
                "/auth/refresh",
                "/auth/{provider}/login",
                "/auth/{provider}/callback",
                "/idp/{rest:path}",
            ),
            optional=("/",),
        ),
        CSRFConfig(secrets=(secrets.token_bytes(32),)),
        TenancyConfig(routes=("/api/v1/communities/{community_id}/{rest:path}", "/api/v1/action/execute")),
        RBACConfig(roles=ROLES, policies=POLICIES, default="deny"),
        principal_limits,
        ValidationConfig(
            routes={
                ("POST", "/api/v1/action/execute"): ExecuteAction,
                ("POST", "/api/v1/communities/{community_id}/moderation"): ModerationAction,
            }
        ),
    ]
    app = guard(inner, *configs)
    return Demo(
        app=app,
        admin_token=admin_token,
        moderator_token=moderator_token,
        user_token=user_token,
        api_key=api_key,
        webhook_secret=webhook_secret,
        twitch_secret=twitch_secret,
        tokens=tokens,
        extra={"abuse_actions": actions, "notes": notes, "banner_lines": _db_lines(db), "login": login},
    )


def _db_lines(db: Any) -> list[str]:
    if db is None:
        return []
    url = db.url.set(drivername=db.url.get_backend_name()).render_as_string(hide_password=True)
    return [
        "",
        f"API keys and revocations persist in {url}. A key of your own that survives restarts:",
        f"  python -m asgi_guard keys new --store '{url}' --owner you --role user --permissions profile:view",
    ]


__all__ = ("COMMUNITY_ID", "Demo", "build_demo")
