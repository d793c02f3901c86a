"""Query and path parameters: converted from text into their Structs, refused with `query.`/`path.` paths."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from msgspec import Meta

from asgi_guard.testing import call, make_scope
from asgi_guard.validation import PageSize, RouteSchema, SanitizedStr, ValidationConfig, ValidationMiddleware
from tests.validation.apps import echo, post

pytestmark = pytest.mark.anyio


class Listing(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    limit: PageSize = 20
    tag: list[Annotated[str, Meta(max_length=8)]] = []
    ids: frozenset[int] | None = None
    active: bool = True
    q: SanitizedStr = ""


class CommunityPath(msgspec.Struct, forbid_unknown_fields=True):
    community_id: Annotated[int, Meta(ge=1)]
    slug: Annotated[str, Meta(pattern=r"\A[a-z-]+\Z")] = "main"


class Rename(msgspec.Struct, forbid_unknown_fields=True):
    page_size: int = msgspec.field(default=10, name="pageSize")


class Body(msgspec.Struct, forbid_unknown_fields=True):
    text: str


def middleware(max_query_params: int = 100) -> ValidationMiddleware:
    routes = {
        ("GET", "/c/{community_id}/posts"): RouteSchema(query=Listing, path=CommunityPath),
        ("GET", "/c/{community_id}/{slug}"): RouteSchema(path=CommunityPath),
        ("GET", "/renamed"): RouteSchema(query=Rename),
        ("POST", "/c/{community_id}/notes"): RouteSchema(body=Body, path=CommunityPath, query=Rename),
    }
    return ValidationMiddleware(echo, ValidationConfig(routes=routes, max_query_params=max_query_params))


async def get(
    path: str, query: bytes = b"", guard: ValidationMiddleware | None = None
) -> tuple[int, dict[str, object]]:
    response = await call(guard or middleware(), make_scope("GET", path, query_string=query))
    return response.status, response.json()


async def test_query_and_path_are_converted() -> None:
    """Text parameters become typed values; list fields collect repeated keys; defaults fill the rest."""
    status, out = await get("/c/7/posts", b"limit=5&tag=a&tag=b&ids=3&ids=3&active=false&q=%3Cb%3Ehi%3C%2Fb%3E")
    assert status == 200
    assert out["path"] == {"community_id": 7, "slug": "main"}
    assert out["query"] == {"limit": 5, "tag": ["a", "b"], "ids": [3], "active": False, "q": "hi"}


async def test_defaults_apply_without_a_query() -> None:
    """An empty query string converts to the Struct's defaults."""
    status, out = await get("/c/7/posts")
    assert status == 200
    assert out["query"] == {"limit": 20, "tag": [], "ids": None, "active": True, "q": ""}


async def test_sanitised_path_parameter_with_surrogates() -> None:
    """A server-decoded path holding lone surrogates is sanitised, not a 500."""

    class Slug(msgspec.Struct, forbid_unknown_fields=True):
        slug: SanitizedStr

    guard = ValidationMiddleware(echo, ValidationConfig(routes={("GET", "/s/{slug}"): RouteSchema(path=Slug)}))
    scope = make_scope("GET", "/s/x")
    scope["path"] = "/s/<i>\udcff"  # as a server decoding with surrogateescape would hand it over
    response = await call(guard, scope)
    assert response.status == 200
    assert response.json()["path"] == {"slug": "?"}


async def test_renamed_query_fields_use_their_wire_name() -> None:
    """A field renamed with msgspec.field(name=...) is read from its wire name."""
    assert await get("/renamed", b"pageSize=3") == (200, {"raw": "", "query": {"pageSize": 3}})


@pytest.mark.parametrize(
    ("path", "query", "error", "detail"),
    [
        ("/c/7/posts", b"limit=0", "validation_error", "Expected `int` >= 1 - at `query.limit`"),
        ("/c/7/posts", b"limit=abc", "validation_error", "Expected `int`, got `str` - at `query.limit`"),
        ("/c/7/posts", b"limit=1&limit=2", "validation_error", "Expected one value, got several - at `query.limit`"),
        ("/c/7/posts", b"tag=toolongvalue", "validation_error", "Expected `str` of length <= 8 - at `query.tag[0]`"),
        ("/c/7/posts", b"ids=1&ids=x", "validation_error", "Expected `int`, got `str` - at `query.ids[1]`"),
        ("/c/7/posts", b"debug=1", "validation_error", "Object contains unknown field `debug` - at `query`"),
        ("/c/7/posts", b"active=maybe", "validation_error", "Expected `bool`, got `str` - at `query.active`"),
        ("/c/0/posts", b"", "validation_error", "Expected `int` >= 1 - at `path.community_id`"),
        ("/c/x/posts", b"", "validation_error", "Expected `int`, got `str` - at `path.community_id`"),
        (
            "/c/7/Bad_Slug",
            b"",
            "validation_error",
            "Expected `str` matching regex '\\\\A[a-z-]+\\\\Z' - at `path.slug`",
        ),
        (
            "/c/7/posts",
            b"q=%ff",
            "malformed_request",
            "The query string is not valid: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
        (
            "/c/7/posts",
            b"q=\xff",
            "malformed_request",
            "The query string is not valid: 'utf-8' codec can't decode byte 0xff in position 2: invalid start byte",
        ),
    ],
)
async def test_bad_parameters_are_400_with_their_location(path: str, query: bytes, error: str, detail: str) -> None:
    """Bad query or path values are refused, the detail naming `query.<field>` or `path.<field>`."""
    assert await get(path, query) == (400, {"error": error, "detail": detail})


async def test_too_many_query_parameters_are_refused() -> None:
    """More parameters than max_query_params is a 400 before any conversion."""
    status, out = await get("/c/7/posts", b"&".join(b"tag=a" for _ in range(6)), middleware(max_query_params=5))
    assert status == 400
    assert out == {
        "error": "malformed_request",
        "detail": "The query string is not valid: Max number of fields exceeded",
    }


async def test_parameters_are_checked_before_the_body_is_read() -> None:
    """A bad path parameter is refused without reading or decoding the body."""
    response = await call(middleware(), post("/c/0/notes"), b"not even json")
    assert response.json()["detail"] == "Expected `int` >= 1 - at `path.community_id`"


async def test_body_query_and_path_together() -> None:
    """A route with all three parts validates each and publishes each."""
    response = await call(middleware(), post("/c/3/notes", query_string=b"pageSize=2"), b'{"text": "t"}')
    assert response.json() == {
        "raw": '{"text": "t"}',
        "payload": {"text": "t"},
        "query": {"pageSize": 2},
        "path": {"community_id": 3, "slug": "main"},
    }


async def test_head_is_validated_like_get() -> None:
    """HEAD runs the GET handler (Starlette, Litestar), so a GET route's query is validated for HEAD too."""
    response = await call(middleware(), make_scope("HEAD", "/renamed", query_string=b"pageSize=x"))
    assert response.status == 400
    assert response.json()["error"] == "validation_error"


async def test_explicit_head_route_wins_over_the_get_twin() -> None:
    """An explicit HEAD route (even spelled with a trailing slash) is used for HEAD instead of the GET route's."""

    class Strict(msgspec.Struct, forbid_unknown_fields=True):
        page: int

    routes = {("GET", "/list"): RouteSchema(query=Rename), ("HEAD", "/list/"): RouteSchema(query=Strict)}
    guard = ValidationMiddleware(echo, ValidationConfig(routes=routes))
    assert (await call(guard, make_scope("HEAD", "/list", query_string=b"page=2"))).status == 200
    assert (await call(guard, make_scope("HEAD", "/list", query_string=b"pageSize=2"))).status == 400
