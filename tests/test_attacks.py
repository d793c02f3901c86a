"""Attacks on the composed stack: requests crafted to slip between what a layer checks and what the app runs."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Request, get, post
from litestar.middleware import DefineMiddleware

from asgi_guard import guard
from asgi_guard.auth import AuthConfig, JWTAuth, KeyRing, MemoryRevocationStore, TokenService
from asgi_guard.demo import COMMUNITY_ID, build_demo
from asgi_guard.rbac import RBACConfig, RoutePolicy
from asgi_guard.tenancy import TenancyConfig
from asgi_guard.testing import call, make_scope
from asgi_guard.webhooks import GenericHMAC, WebhookConfig, WebhookMiddleware

pytestmark = pytest.mark.anyio

SECRET = "s" * 48
SLASH_SPELLINGS = ("/{}/", "//{}", "/{}//", "//{}/")


def _spell(template: str, path: str) -> str:
    return template.format(path.strip("/"))


def _tokens() -> TokenService:
    return TokenService(KeyRing.single(SECRET), MemoryRevocationStore(), issuer=None, audience=None)


def _auth() -> AuthConfig:
    return AuthConfig(
        jwt=JWTAuth(keyring=KeyRing.single(SECRET), revocation=MemoryRevocationStore(), issuer=None, audience=None)
    )


async def test_newline_suffix_cannot_skip_webhook_verification() -> None:
    """`/webhook/generic%0A` (Starlette routes it to `/webhook/generic`) still needs a valid signature."""
    demo = build_demo()
    scope = make_scope("POST", "/webhook/generic\n", headers={"content-type": "application/json"})
    recorder = await call(demo.app, scope, b'{"event":"forged"}')
    assert recorder.status == 401
    assert recorder.json()["error"] == "missing_signature"


async def test_newline_suffix_cannot_skip_validation_or_the_command_limit() -> None:
    """`/api/v1/action/execute%0A` is validated like the route Starlette runs for it (400, not the app's 500)."""
    demo = build_demo()
    headers = {"x-api-key": demo.api_key, "x-community-id": COMMUNITY_ID, "content-type": "application/json"}
    scope = make_scope("POST", "/api/v1/action/execute\n", headers=headers)
    recorder = await call(demo.app, scope, b'{"command": "shoutout"}')
    assert recorder.status == 400
    assert recorder.json()["error"] == "validation_error"


async def test_newline_as_the_whole_parameter_cannot_skip_webhook_verification() -> None:
    """`/hooks/%0A` runs Starlette's `/hooks/{provider}` handler (provider "\\n"): it needs a signature too."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    delivered: list[str] = []

    async def hook(request: Any) -> Response:
        delivered.append(request.path_params["provider"])
        return Response(status_code=204)

    config = WebhookConfig(routes={"/hooks/{provider}": GenericHMAC(secrets=["w" * 32])})
    app = WebhookMiddleware(Starlette(routes=[Route("/hooks/{provider}", hook, methods=["POST"])]), config)
    recorder = await call(app, make_scope("POST", "/hooks/\n"), b'{"forged": true}')
    assert recorder.status == 401
    assert delivered == []


@pytest.mark.parametrize("spelling", SLASH_SPELLINGS)
async def test_litestar_slash_spellings_cannot_skip_webhook_verification(spelling: str) -> None:
    """Litestar routes `//webhook/generic/` to `/webhook/generic`: the signature is required there too."""
    delivered: list[bytes] = []

    @post("/webhook/generic", status_code=200)
    async def hook(request: Request[Any, Any, Any]) -> dict[str, str]:
        delivered.append(await request.body())
        return {"ok": "1"}

    config = WebhookConfig(routes={"/webhook/generic": GenericHMAC(secrets=["w" * 32])})
    app = Litestar([hook], middleware=[DefineMiddleware(WebhookMiddleware, config=config)])
    recorder = await call(app, make_scope("POST", _spell(spelling, "/webhook/generic")), b'{"forged": true}')
    assert recorder.status == 401
    assert delivered == []


@pytest.mark.parametrize("spelling", SLASH_SPELLINGS)
async def test_litestar_slash_spellings_cannot_skip_route_policy(spelling: str) -> None:
    """A route policy on `/admin/users` also covers the spellings Litestar routes there (default allow)."""

    @get("/admin/users")
    async def users() -> dict[str, Any]:
        return {"users": ["admin-1"]}

    policies = (RoutePolicy(path="/admin/users", permissions=("admin:users",)),)
    app = guard(Litestar([users]), _auth(), RBACConfig(policies=policies, default="allow"))
    token = _tokens().issue_access("user-1", roles=["user"])
    scope = make_scope("GET", _spell(spelling, "/admin/users"), headers={"authorization": f"Bearer {token}"})
    recorder = await call(app, scope)
    assert recorder.status == 403
    assert recorder.json()["error"] == "insufficient_permissions"


async def test_litestar_double_slash_cannot_skip_community_membership() -> None:
    """`/api//communities/7/posts` (Litestar runs the `/api/communities/{cid}/posts` handler) checks membership."""

    @get("/api/communities/{cid:str}/posts")
    async def posts(request: Request[Any, Any, Any]) -> dict[str, str]:
        return {"community": request.path_params["cid"]}

    tenancy = TenancyConfig(routes=("/api/communities/{community_id}/{rest:path}",))
    app = guard(Litestar([posts]), _auth(), tenancy)
    token = _tokens().issue_access("user-1", roles=["user"], communities=["42"])
    headers = {"authorization": f"Bearer {token}"}
    own = await call(app, make_scope("GET", "/api/communities/42/posts", headers=headers))
    other = await call(app, make_scope("GET", "/api//communities/7/posts/", headers=headers))
    assert own.status == 200
    assert other.status == 403
    assert other.json()["error"] == "community_forbidden"


@pytest.mark.parametrize("path", ["/public//secret", "/public/secret/", "//public/secret"])
async def test_non_canonical_spelling_cannot_borrow_a_public_rule(path: str) -> None:
    """Starlette runs its catch-all route for `/public//secret`: the `/public/{page}` exclusion and public policy
    (which cover the canonical `/public/secret`) must not waive authentication and policy there."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def page(request: Any) -> JSONResponse:
        return JSONResponse({"route": "catch-all", "rest": request.path_params.get("rest", "")})

    inner = Starlette(routes=[Route("/public/{page}", page), Route("/{rest:path}", page)])
    auth = AuthConfig(
        jwt=JWTAuth(keyring=KeyRing.single(SECRET), revocation=MemoryRevocationStore(), issuer=None, audience=None),
        exclude=("/public/{page}",),
    )
    policies = (
        RoutePolicy(path="/public/{page}", public=True),
        RoutePolicy(path="/{rest:path}", permissions=("admin:proxy",)),
    )
    app = guard(inner, auth, RBACConfig(policies=policies))
    anonymous = await call(app, make_scope("GET", path))
    assert (anonymous.status, anonymous.json()["error"]) == (401, "missing_credentials")
    token = _tokens().issue_access("user-1", roles=["user"])
    user = await call(app, make_scope("GET", path, headers={"authorization": f"Bearer {token}"}))
    assert (user.status, user.json()["error"]) == (403, "insufficient_permissions")
    assert (await call(app, make_scope("GET", "/public/secret"))).status == 200


@pytest.mark.parametrize(
    ("public", "path"), [("/items/", "/items"), ("/files/{rest:path}", "/files")], ids=["trailing-slash", "path-param"]
)
async def test_canonical_match_of_a_public_template_does_not_waive_default_deny(public: str, path: str) -> None:
    """Starlette routes `/items` apart from `/items/`: a public `/items/` policy leaves an unlisted `/items` denied."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def endpoint(request: Any) -> JSONResponse:
        return JSONResponse({"path": request.url.path})

    inner = Starlette(routes=[Route(path, endpoint), Route(public, endpoint)])
    app = guard(inner, _auth(), RBACConfig(policies=(RoutePolicy(path=public, public=True),)))
    token = _tokens().issue_access("user-1", roles=["user"])
    refused = await call(app, make_scope("GET", path, headers={"authorization": f"Bearer {token}"}))
    assert (refused.status, refused.json()["error"]) == (403, "insufficient_permissions")
