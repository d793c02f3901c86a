"""The framework examples run as documented: a token with the right role passes, others are refused."""

from __future__ import annotations

import httpx
import pytest

from asgi_guard import KeyRing, MemoryRevocationStore, TokenService
from examples import fastapi_app, litestar_app, raw_asgi

pytestmark = pytest.mark.anyio

SECRET = "an-example-secret-of-at-least-32-bytes!"


def _token(roles: list[str], communities: list[str] = ()) -> str:  # type: ignore[assignment]
    service = TokenService(KeyRing.single(SECRET), MemoryRevocationStore())
    return service.issue_access("user-1", roles=roles, communities=communities)


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")  # type: ignore[arg-type]


@pytest.mark.parametrize("module", [fastapi_app, litestar_app, raw_asgi], ids=["fastapi", "litestar", "raw"])
async def test_profile_needs_a_token(module: object) -> None:
    """Each example answers the profile to a user token and refuses an anonymous request with 401."""
    app = module.build(SECRET)  # type: ignore[attr-defined]
    path = "/" if module is raw_asgi else "/profile"
    async with _client(app) as client:
        anonymous = await client.get(path)
        ok = await client.get(path, headers={"Authorization": f"Bearer {_token(['user'])}"})
    assert anonymous.status_code == 401
    assert ok.status_code == 200, ok.text


async def test_fastapi_dependency_refuses_missing_permission() -> None:
    """The FastAPI dependency answers 403 with the asgi_guard error body for a plain user."""
    app = fastapi_app.build(SECRET)
    async with _client(app) as client:
        refused = await client.post(
            "/communities/5/moderation", headers={"Authorization": f"Bearer {_token(['user'])}"}
        )
        allowed = await client.post(
            "/communities/5/moderation", headers={"Authorization": f"Bearer {_token(['moderator'])}"}
        )
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_permissions"
    assert allowed.status_code == 200


@pytest.mark.parametrize("module", [fastapi_app, litestar_app, raw_asgi], ids=["fastapi", "litestar", "raw"])
def test_missing_secret_stops_at_start(module: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """`uvicorn examples.x:app` without the secret stops with a message naming the variable, never serves 500s."""
    monkeypatch.delenv("ASGI_GUARD_JWT_SECRET", raising=False)
    monkeypatch.delitem(vars(module), "app", raising=False)
    with pytest.raises(SystemExit, match="ASGI_GUARD_JWT_SECRET"):
        module.app  # type: ignore[attr-defined]  # noqa: B018 - the attribute access is the start-up
    monkeypatch.setenv("ASGI_GUARD_JWT_SECRET", "too-short")
    with pytest.raises(SystemExit, match="32 bytes"):
        module.app  # type: ignore[attr-defined]  # noqa: B018
    monkeypatch.setenv("ASGI_GUARD_JWT_SECRET", SECRET)
    assert callable(module.app)  # type: ignore[attr-defined]


async def test_fastapi_docs_page_loads_swagger_ui() -> None:
    """/docs is served with a CSP that admits Swagger UI's assets and its inline script by hash, not unsafe-inline."""
    app = fastapi_app.build(SECRET)
    async with _client(app) as client:
        docs = await client.get("/docs")
        api = await client.get("/profile")
    policy = docs.headers["content-security-policy"]
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    assert "script-src https://cdn.jsdelivr.net 'sha256-" in policy
    assert "unsafe-inline" not in policy
    assert "cdn.jsdelivr.net" in policy.split("style-src", 1)[1]
    assert api.headers["content-security-policy"].startswith("default-src 'none'")  # the rest stays strict
