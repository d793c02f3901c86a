"""What one route validates (``RouteSchema``) and its compiled, per-request-ready form."""

from __future__ import annotations

import collections.abc as abc
import types
from typing import TYPE_CHECKING, Annotated, Any, Final, Union, get_args, get_origin

import msgspec
import msgspec.inspect

from asgi_guard._routing import Template
from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from asgi_guard.validation._plan import Cleaner, SchemaWalker

_MULTI: Final = frozenset({list, tuple, set, frozenset, abc.Sequence, abc.MutableSequence, abc.Set, abc.MutableSet})
_UNIONS: Final = frozenset({Union, types.UnionType})


class RouteSchema(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The schemas of one route; a bare type in ``ValidationConfig.routes`` means ``RouteSchema(body=type)``.

    Attributes:
        body: the JSON body's type (usually a Struct), or ``None`` to leave the body alone.
        query: a Struct for the query string (values converted from text: ``?limit=5`` fills an
            ``int``; list-typed fields collect repeated keys, other fields refuse repeats).
        path: a Struct for the path template's parameters (``/communities/{community_id}``).
        max_body_bytes: this route's body cap, overriding ``ValidationConfig.max_body_bytes``.
    """

    body: Any = None
    query: Any = None
    path: Any = None
    max_body_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.body is None and self.query is None and self.path is None:
            raise ConfigurationError.expected("at least one of `body`, `query`, `path`", None, "RouteSchema")
        for name in ("query", "path"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, type) and issubclass(value, msgspec.Struct)):
                raise ConfigurationError.expected("a msgspec Struct class", value, f"RouteSchema.{name}")
        if self.max_body_bytes is not None and (type(self.max_body_bytes) is not int or self.max_body_bytes < 1):
            raise ConfigurationError.expected("a positive int", self.max_body_bytes, "RouteSchema.max_body_bytes")


def _is_multi(tp: Any) -> bool:
    """Whether a query field takes repeated keys (a list-like type, possibly optional or annotated)."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _is_multi(get_args(tp)[0])
    if origin in _UNIONS:
        return any(_is_multi(arg) for arg in get_args(tp))
    return tp in _MULTI or origin in _MULTI


class CompiledRoute:
    """Decoders and sanitisers of one route, built once at construction."""

    __slots__ = ("body", "decoder", "max_body_bytes", "path", "path_clean", "query", "query_clean", "query_multi")

    def __init__(self, schema: RouteSchema, template: str, max_body_bytes: int, walker: SchemaWalker) -> None:
        where = f"routes[{template!r}]"
        self.body: Cleaner | None = None
        self.decoder: msgspec.json.Decoder[Any] | None = None
        if schema.body is not None:
            try:
                self.decoder = msgspec.json.Decoder(schema.body, strict=True)
                hooked = _custom_types(msgspec.inspect.type_info(schema.body))
            except (TypeError, ValueError) as exc:
                raise ConfigurationError.expected("a type msgspec can decode", schema.body, f"{where}.body") from exc
            if hooked:
                # Without a dec_hook such a type fails every request: a misconfiguration, not a 400.
                raise ConfigurationError.expected("a type msgspec decodes without hooks", hooked[0], f"{where}.body")
            self.body = walker.cleaner(schema.body, f"{where}.body")
        self.max_body_bytes = schema.max_body_bytes or max_body_bytes

        self.query: type[msgspec.Struct] | None = schema.query
        self.query_clean: Cleaner | None = None
        self.query_multi: frozenset[str] = frozenset()
        if schema.query is not None:
            self.query_clean = walker.cleaner(schema.query, f"{where}.query")
            self.query_multi = frozenset(
                field.encode_name for field in msgspec.structs.fields(schema.query) if _is_multi(field.type)
            )

        self.path: type[msgspec.Struct] | None = schema.path
        self.path_clean: Cleaner | None = None
        if schema.path is not None:
            self.path_clean = walker.cleaner(schema.path, f"{where}.path")
            _check_path_params(schema.path, template, where)


def _custom_types(info: msgspec.inspect.Type) -> list[type]:
    """Classes in a decoded type that msgspec only decodes through a ``dec_hook``."""
    seen: set[int] = set()
    stack: list[Any] = [info]
    found: list[type] = []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, msgspec.inspect.CustomType):
            found.append(node.cls)
        for value in msgspec.structs.astuple(node):
            if isinstance(value, msgspec.Struct):
                stack.append(value)
            elif isinstance(value, tuple):
                stack.extend(item for item in value if isinstance(item, msgspec.Struct))
    return found


def _check_path_params(struct: type[msgspec.Struct], template: str, where: str) -> None:
    """The template must supply every required field, and the Struct must name every parameter."""
    params = set(Template(template).params)
    fields = msgspec.structs.fields(struct)
    names = {field.encode_name for field in fields}
    required = {field.encode_name for field in fields if field.required}
    if not required <= params:
        raise ConfigurationError.expected(
            f"path parameters for the required fields {sorted(required)}", sorted(params), f"{where}.path"
        )
    if not params <= names:
        raise ConfigurationError.expected(f"fields for the path parameters {sorted(params)}", sorted(names), where)


__all__ = ("CompiledRoute", "RouteSchema")
