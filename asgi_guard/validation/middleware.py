"""The validation layer: one typed decode per request, constraints from the types, field-path errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from asgi_guard._body import ClientDisconnected, read_body
from asgi_guard._headers import get_unique
from asgi_guard._responses import send_denial
from asgi_guard.context import GuardContext
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.validation._depth import too_deep
from asgi_guard.validation._errors import malformed, validation_error
from asgi_guard.validation._query import parse_query
from asgi_guard.validation.access import Validated, store

if TYPE_CHECKING:
    from asgi_guard.types import ASGIApp, Receive, Scope, Send
    from asgi_guard.validation._plan import Cleaner
    from asgi_guard.validation.config import ValidationConfig
    from asgi_guard.validation.route import CompiledRoute

_UTF8: Final = frozenset({b"utf-8", b"utf8"})


class ValidationMiddleware:
    """Validates the body, query and path parameters of the configured routes before the app runs.

    For a listed route: path and query parameters are converted into their Structs; the body must
    be JSON (415 otherwise), at most ``max_body_bytes`` (413), nested at most ``max_depth`` levels,
    and decode strictly into the route's type; marked strings are then sanitised. Any failure is a
    400 (``validation_error`` with the field path, or ``malformed_request``), never a 500. The
    decoded body is ``GuardContext.payload`` (read it with :func:`get_payload`) and the raw body is
    replayed to the app. Unlisted routes, websockets and ``lifespan`` pass through.
    """

    __slots__ = (
        "_content_types",
        "_fmt",
        "_json_suffix",
        "_limit",
        "_max_depth",
        "_max_query",
        "_routes",
        "app",
        "config",
    )

    def __init__(self, app: ASGIApp, config: ValidationConfig) -> None:
        self.app = app
        self.config = config
        self._routes = config.compile()
        self._content_types = frozenset(media.encode("latin-1") for media in config.content_types)
        self._json_suffix = config.accept_json_suffix
        self._max_depth = config.max_depth
        self._max_query = config.max_query_params
        self._limit = config.max_detail_chars
        self._fmt = config.error_format

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx, send = GuardContext.enter(scope, send)
        found = self._routes.match(scope["method"], ctx.route_path(scope))
        if found is None:
            await self.app(scope, receive, send)
            return
        route, params = found
        try:
            receive = await self._validate(scope, receive, route, params)
        except GuardError as error:
            await send_denial(scope, send, error, fmt=self._fmt)
            return
        except ClientDisconnected:
            return  # nobody is left to answer
        await self.app(scope, receive, send)

    async def _validate(self, scope: Scope, receive: Receive, route: CompiledRoute, params: dict[str, str]) -> Receive:
        validated = Validated()
        if route.path is not None:
            validated.path = self._convert(params, route.path, "path", route.path_clean)
        if route.query is not None:
            query = parse_query(scope.get("query_string", b""), route.query_multi, self._max_query, self._limit)
            validated.query = self._convert(query, route.query, "query", route.query_clean)
        if route.decoder is not None:
            self._check_content_type(scope)
            body, receive = await read_body(scope, receive, route.max_body_bytes)
            validated.body = self._decode(body, route.decoder, route.body)
        store(scope, validated)
        return receive

    def _convert(self, data: dict[str, Any], schema: type[msgspec.Struct], location: str, clean: Cleaner | None) -> Any:
        try:
            value = msgspec.convert(data, schema, strict=False)
        except msgspec.ValidationError as exc:
            raise validation_error(str(exc), location, self._limit) from exc
        return value if clean is None else clean(value)

    def _check_content_type(self, scope: Scope) -> None:
        raw = get_unique(scope, b"content-type")
        media, *parameters = (raw or b"").split(b";")
        media = media.strip().lower()
        accepted = media in self._content_types or (
            self._json_suffix and media.startswith(b"application/") and media.endswith(b"+json")
        )
        for parameter in parameters:
            name, _, value = parameter.partition(b"=")
            if name.strip().lower() == b"charset" and value.strip().strip(b'"').lower() not in _UTF8:
                accepted = False
        if not accepted:
            raise GuardError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"content_type:{(raw or b'').decode('latin-1')}")

    def _decode(self, body: bytes, decoder: msgspec.json.Decoder[Any], clean: Cleaner | None) -> Any:
        if too_deep(body, self._max_depth):
            raise malformed("nesting_too_deep", f"The JSON nests deeper than {self._max_depth} levels.", self._limit)
        try:
            value = decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise validation_error(str(exc), "$", self._limit) from exc
        except msgspec.DecodeError as exc:
            if "UTF-8" in str(exc):  # msgspec >= 0.23 reports bad UTF-8 in strings as a DecodeError
                raise malformed("invalid_utf8", "The body is not valid UTF-8.", self._limit) from exc
            raise malformed("invalid_json", f"The body is not valid JSON: {exc}", self._limit) from exc
        except UnicodeDecodeError as exc:  # msgspec < 0.23 raises this instead, for bad UTF-8 in strings
            raise malformed("invalid_utf8", "The body is not valid UTF-8.", self._limit) from exc
        except RecursionError as exc:  # belt and braces behind the depth check
            raise malformed("nesting_too_deep", "The JSON nests too deeply.", self._limit) from exc
        return value if clean is None else clean(value)


__all__ = ("ValidationMiddleware",)
