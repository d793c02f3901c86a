"""Configuration of the validation layer: which route validates what, and the limits."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from asgi_guard._routing import RouteTable
from asgi_guard.errors import ConfigurationError
from asgi_guard.options import ErrorFormat, check_error_format
from asgi_guard.validation._plan import SchemaWalker
from asgi_guard.validation.route import CompiledRoute, RouteSchema

_METHOD: Final = re.compile(r"\*|[A-Z]+")
_MEDIA_TYPE: Final = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")


class ValidationConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Route schemas and the limits that keep hostile bodies cheap to refuse.

    Attributes:
        routes: ``{(method, path template): schema}``; the schema is a type for the JSON body or a
            :class:`RouteSchema` with ``body``/``query``/``path``. Templates use Starlette syntax
            (``/communities/{community_id}``); routes not listed pass through unvalidated.
        max_body_bytes: body cap in bytes (413 beyond), per route overridable.
        max_depth: deepest array/object nesting accepted (msgspec has no depth option).
        forbid_unknown_fields: require every Struct reachable from a schema to declare
            ``forbid_unknown_fields=True`` (msgspec applies the rule per class, so this checks at
            construction that no lenient Struct slipped in). ``False`` leaves it to each Struct.
        content_types: accepted media types (``application/*+json`` is accepted too when
            ``accept_json_suffix``); a ``charset`` other than UTF-8 is refused.
        accept_json_suffix: accept structured-syntax ``+json`` types such as ``application/merge-patch+json``.
        max_query_params: most query parameters parsed (400 beyond).
        max_detail_chars: cap on the client's input echoed in an error detail (text and path each).
        error_format: ``json`` (``{error, detail}``) or ``problem`` (RFC 9457).
    """

    routes: Mapping[tuple[str, str], Any]
    max_body_bytes: int = 1_048_576
    max_depth: int = 32
    forbid_unknown_fields: bool = True
    content_types: tuple[str, ...] = ("application/json",)
    accept_json_suffix: bool = True
    max_query_params: int = 100
    max_detail_chars: int = 160
    error_format: ErrorFormat = "json"

    def __post_init__(self) -> None:
        for name, low, high in (
            ("max_body_bytes", 1, 1 << 40),
            ("max_depth", 1, 512),
            ("max_query_params", 1, 10_000),
            ("max_detail_chars", 16, 10_000),
        ):
            value = getattr(self, name)
            if type(value) is not int or not low <= value <= high:
                raise ConfigurationError.expected(f"an int in [{low}, {high}]", value, f"ValidationConfig.{name}")
        if not self.content_types:
            raise ConfigurationError.expected("at least one media type", (), "ValidationConfig.content_types")
        for index, media in enumerate(self.content_types):
            if not isinstance(media, str) or not _MEDIA_TYPE.fullmatch(media):
                raise ConfigurationError.expected(
                    "a lower-case media type without parameters", media, f"ValidationConfig.content_types[{index}]"
                )
        check_error_format(self.error_format, "ValidationConfig.error_format")
        self.compile()

    def compile(self) -> RouteTable[CompiledRoute]:
        """The route table of compiled routes: decoders and sanitisers built once.

        Raises:
            ConfigurationError: a bad route key or schema, a misplaced ``Sanitize`` marker, or (with
                ``forbid_unknown_fields``) a Struct that accepts unknown fields.
        """
        if not isinstance(self.routes, Mapping) or not self.routes:
            raise ConfigurationError.expected("a non-empty mapping of routes", self.routes, "ValidationConfig.routes")
        walker = SchemaWalker()
        table: RouteTable[CompiledRoute] = RouteTable()
        heads: list[tuple[str, CompiledRoute]] = []
        for key, value in self.routes.items():
            if not (
                isinstance(key, tuple)
                and len(key) == 2
                and isinstance(key[0], str)
                and _METHOD.fullmatch(key[0])
                and isinstance(key[1], str)
            ):
                raise ConfigurationError.expected("a (METHOD, '/path') key", key, "ValidationConfig.routes")
            method, template = key
            schema = value if isinstance(value, RouteSchema) else RouteSchema(body=value)
            compiled = CompiledRoute(schema, template, self.max_body_bytes, walker)
            table.add(method, template, compiled)
            if method == "GET":
                heads.append((template, compiled))
        for template, compiled in heads:
            # Starlette runs the GET handler for HEAD: it must not get there unvalidated. Added last,
            # so an explicit HEAD route for the same path (however spelled) wins.
            with contextlib.suppress(ConfigurationError):
                table.add("HEAD", template, compiled)
        if self.forbid_unknown_fields:
            for other in walker.other_classes:
                raise ConfigurationError.expected(
                    "msgspec Structs (dataclasses, TypedDicts and attrs classes cannot forbid unknown fields)",
                    other.__qualname__,
                    "ValidationConfig.routes (or set forbid_unknown_fields=False)",
                )
            for struct in walker.structs:
                if not struct.__struct_config__.forbid_unknown_fields:
                    raise ConfigurationError.expected(
                        "Structs declared with `forbid_unknown_fields=True`",
                        struct.__qualname__,
                        "ValidationConfig.routes (or set forbid_unknown_fields=False)",
                    )
        return table


__all__ = ("ValidationConfig",)
