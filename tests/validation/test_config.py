"""ValidationConfig and RouteSchema: every misconfiguration is refused at construction."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
import pytest

from asgi_guard import guard
from asgi_guard.compose import layer_of
from asgi_guard.errors import ConfigurationError
from asgi_guard.events import EventsConfig
from asgi_guard.testing import call
from asgi_guard.validation import ExecuteAction, RouteSchema, SanitizedStr, ValidationConfig, ValidationMiddleware
from tests.validation.apps import echo, post


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class Lenient(msgspec.Struct):
    name: str


class HoldsLenient(msgspec.Struct, forbid_unknown_fields=True):
    inner: list[Lenient]


class CommunityPath(msgspec.Struct, forbid_unknown_fields=True):
    community_id: int
    section: str = "main"


@dataclasses.dataclass
class DataBody:
    name: str


class Unsupported:
    pass


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_body_bytes": 0}, r"Expected an int in \[1, .*\], got 0 - at `ValidationConfig.max_body_bytes`"),
        ({"max_body_bytes": True}, r"got True - at `ValidationConfig.max_body_bytes`"),
        ({"max_depth": 513}, r"got 513 - at `ValidationConfig.max_depth`"),
        ({"max_query_params": 0}, r"at `ValidationConfig.max_query_params`"),
        ({"max_detail_chars": 8}, r"at `ValidationConfig.max_detail_chars`"),
        ({"content_types": ()}, r"Expected at least one media type.*`ValidationConfig.content_types`"),
        ({"content_types": ("Application/JSON",)}, r"at `ValidationConfig.content_types\[0\]`"),
        ({"content_types": ("application/json; charset=utf-8",)}, r"`ValidationConfig.content_types\[0\]`"),
        ({"error_format": "xml"}, r"Expected `json` or `problem`, got 'xml'"),
        ({"routes": {}}, r"Expected a non-empty mapping of routes"),
        ({"routes": [("POST", "/x")]}, r"Expected a non-empty mapping of routes"),
        ({"routes": {"/x": Strict}}, r"Expected a \(METHOD, '/path'\) key, got '/x'"),
        ({"routes": {("post", "/x"): Strict}}, r"Expected a \(METHOD, '/path'\) key, got \('post', '/x'\)"),
        ({"routes": {("POST", 5): Strict}}, r"Expected a \(METHOD, '/path'\) key"),
        ({"routes": {("POST", "x"): Strict}}, r"starting with `/`"),
        (
            {"routes": {("POST", "/x"): Unsupported}},
            r"Expected a type msgspec decodes without hooks.*- at `routes\['/x'\].body`",
        ),
        ({"routes": {("POST", "/x"): dict[str, Unsupported]}}, r"without hooks"),
        ({"routes": {("POST", "/x"): 42}}, r"Expected a type msgspec can decode, got 42 - at `routes\['/x'\].body`"),
        (
            {"routes": {("POST", "/x"): Lenient}},
            r"Expected Structs declared with `forbid_unknown_fields=True`, got 'Lenient'",
        ),
        ({"routes": {("POST", "/x"): HoldsLenient}}, r"got 'Lenient'"),
        ({"routes": {("POST", "/x"): list[DataBody]}}, r"Expected msgspec Structs \(dataclasses, .*got 'DataBody'"),
        ({"routes": {("GET", "/x"): RouteSchema(query=Lenient)}}, r"got 'Lenient'"),
        (
            {"routes": {("GET", "/c"): RouteSchema(path=CommunityPath)}},
            r"Expected path parameters for the required fields \['community_id'\], got \[\]",
        ),
        (
            {"routes": {("GET", "/c/{community_id}/{extra}"): RouteSchema(path=CommunityPath)}},
            r"Expected fields for the path parameters \['community_id', 'extra'\]",
        ),
    ],
)
def test_bad_configs_are_refused(kwargs: dict[str, Any], message: str) -> None:
    """Each invalid option raises ConfigurationError saying what, got and where."""
    options: dict[str, Any] = {"routes": {("POST", "/x"): Strict}} | kwargs
    with pytest.raises(ConfigurationError, match=message):
        ValidationConfig(**options)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"Expected at least one of `body`, `query`, `path`"),
        ({"query": Strict(name="x")}, r"Expected a msgspec Struct class.*- at `RouteSchema.query`"),
        ({"path": dict}, r"- at `RouteSchema.path`"),
        ({"body": Strict, "max_body_bytes": 0}, r"Expected a positive int, got 0 - at `RouteSchema.max_body_bytes`"),
        ({"body": Strict, "max_body_bytes": 1.5}, r"got 1.5 - at `RouteSchema.max_body_bytes`"),
    ],
)
def test_bad_route_schemas_are_refused(kwargs: dict[str, Any], message: str) -> None:
    """A RouteSchema with nothing to validate, a non-Struct query/path or a bad cap is refused."""
    with pytest.raises(ConfigurationError, match=message):
        RouteSchema(**kwargs)


def test_misplaced_marker_is_refused_through_the_config() -> None:
    """A Sanitize marker that cannot apply fails when the config is built."""

    class Bad(msgspec.Struct, forbid_unknown_fields=True):
        tags: dict[SanitizedStr, int]

    with pytest.raises(ConfigurationError, match=r"- at `Bad.tags\{key\}`"):
        ValidationConfig(routes={("POST", "/x"): Bad})


def test_lenient_schemas_allowed_when_the_option_is_off() -> None:
    """forbid_unknown_fields=False leaves unknown-field handling to each Struct (and accepts dataclasses)."""
    config = ValidationConfig(
        routes={("POST", "/x"): HoldsLenient, ("POST", "/d"): DataBody}, forbid_unknown_fields=False
    )
    assert len(config.compile()) == 2


class Thread(msgspec.Struct, forbid_unknown_fields=True):
    text: SanitizedStr
    replies: list[Thread] = []


def test_recursive_schemas_compile() -> None:
    """A self-referencing Struct compiles once (no endless walk) and is checked like any other."""
    config = ValidationConfig(routes={("POST", "/thread"): Thread, ("PUT", "/thread"): list[Thread]})
    assert len(config.compile()) == 1


def test_unknown_config_fields_are_refused() -> None:
    """The config itself forbids unknown fields when loaded from data."""
    with pytest.raises(msgspec.ValidationError, match="unknown field `max_bytes`"):
        msgspec.convert({"routes": {}, "max_bytes": 1}, ValidationConfig)


@pytest.mark.anyio
async def test_guard_builds_the_validation_layer() -> None:
    """guard(app, ValidationConfig(...)) wraps the app innermost, with no prerequisites."""
    config = ValidationConfig(routes={("POST", "/api/v1/action/execute"): ExecuteAction})
    app = guard(echo, config, EventsConfig(sinks=()))
    assert layer_of(config).name == "validation"
    assert layer_of(config).requires == ()
    denied = await call(app, post("/api/v1/action/execute"), b'{"user_id": "x"}')
    assert denied.status == 400
    assert denied.json()["error"] == "validation_error"
    assert "x-request-id" in denied.headers
    inner = guard(echo, config)
    assert isinstance(inner, ValidationMiddleware)
    assert inner.app is echo


def test_guard_refuses_validation_twice() -> None:
    """Two validation configs in one stack are a configuration error."""
    config = ValidationConfig(routes={("POST", "/x"): Strict})
    with pytest.raises(ConfigurationError, match="Expected each layer once"):
        guard(echo, config, config)
