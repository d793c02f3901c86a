"""Compile a schema type, once, into the function that sanitises a decoded value of it.

The walk follows the type the decoder follows (Struct fields, lists, tuples, sets, dict values,
unions and optionals) and keeps only the branches that lead to a :class:`Sanitize` marker, so a
schema without markers costs nothing per request. It also records every Struct class it reaches,
which is how the configuration checks that each one forbids unknown fields.
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import types
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.validation.sanitize import Sanitize

Cleaner = abc.Callable[[Any], Any]

_LISTS: Final = frozenset({list, abc.Sequence, abc.MutableSequence, abc.Collection, abc.Iterable})
_SETS: Final = frozenset({set, frozenset, abc.Set, abc.MutableSet})
_DICTS: Final = frozenset({dict, abc.Mapping, abc.MutableMapping})
_UNIONS: Final = frozenset({Union, types.UnionType})


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def _struct_class(tp: Any) -> type[msgspec.Struct] | None:
    """The Struct class of ``tp`` (also for a parametrised generic Struct), else ``None``."""
    target = get_origin(tp) or tp
    if isinstance(target, type) and issubclass(target, msgspec.Struct):
        return target
    return None


class _StructCleaner:
    """Cleans the marked fields of one Struct class in place (frozen ones too)."""

    __slots__ = ("fields",)

    def __init__(self) -> None:
        self.fields: tuple[tuple[str, Cleaner], ...] = ()

    def __call__(self, obj: Any) -> Any:
        for name, clean in self.fields:
            value = getattr(obj, name)
            cleaned = clean(value)
            if cleaned is not value:
                msgspec.structs.force_setattr(obj, name, cleaned)
        return obj


def _clean_list(clean: Cleaner) -> Cleaner:
    def clean_list(value: list[Any]) -> list[Any]:
        for index, item in enumerate(value):
            cleaned = clean(item)
            if cleaned is not item:
                value[index] = cleaned
        return value

    return clean_list


def _clean_tuple(cleaners: tuple[Cleaner | None, ...] | Cleaner) -> Cleaner:
    if callable(cleaners):
        each = cleaners
        return lambda value: tuple(each(item) for item in value)
    fixed = cleaners
    return lambda value: tuple(item if c is None else c(item) for c, item in zip(fixed, value, strict=True))


def _clean_dict(clean: Cleaner) -> Cleaner:
    def clean_dict(value: dict[Any, Any]) -> dict[Any, Any]:
        for key, item in value.items():
            cleaned = clean(item)
            if cleaned is not item:
                value[key] = cleaned
        return value

    return clean_dict


def _clean_union(by_type: dict[type, Cleaner]) -> Cleaner:
    def clean_union(value: Any) -> Any:
        clean = by_type.get(type(value))
        return value if clean is None else clean(value)

    return clean_union


class SchemaWalker:
    """Walks schema types; one walker may serve several schemas (Struct plans are shared)."""

    __slots__ = ("_others", "_structs")

    def __init__(self) -> None:
        self._structs: dict[Any, _StructCleaner | None] = {}
        self._others: dict[type, None] = {}  # dataclasses, TypedDicts, attrs classes (ordered set)

    @property
    def structs(self) -> tuple[type[msgspec.Struct], ...]:
        """Every Struct class reached so far."""
        found = {_struct_class(tp) for tp in self._structs}
        return tuple(sorted((cls for cls in found if cls is not None), key=lambda cls: cls.__qualname__))

    @property
    def other_classes(self) -> tuple[type, ...]:
        """Dataclasses, TypedDicts and attrs classes reached: msgspec ignores unknown fields for them."""
        return tuple(self._others)

    def cleaner(self, tp: Any, where: str) -> Cleaner | None:
        """The sanitiser for values of ``tp``, or ``None`` when nothing in it is marked.

        Raises:
            ConfigurationError: a marker on something other than ``str``, or in a container the
                walk cannot follow.
        """
        origin = get_origin(tp)
        if origin is Annotated:
            base, *metadata = get_args(tp)
            markers = [item for item in metadata if isinstance(item, Sanitize)]
            if not markers:
                return self.cleaner(base, where)
            if len(markers) > 1 or base is not str:
                raise ConfigurationError.expected("one `Sanitize` marker on a `str`", tp, where)
            return markers[0]
        if _struct_class(tp) is not None:
            return self._struct(tp, where)
        if _is_other_class(tp):
            self._other(tp)
            return None
        if origin is None or origin is Literal:
            return None
        args = get_args(tp)
        if origin in _UNIONS:
            return self._union(args, where)
        if origin in _LISTS and len(args) == 1:
            inner = self.cleaner(args[0], f"{where}[]")
            return _clean_list(inner) if inner is not None else None
        if origin in _SETS and len(args) == 1:
            inner = self.cleaner(args[0], f"{where}[]")
            if inner is None:
                return None
            each = inner
            return lambda value: type(value)(each(item) for item in value)
        if origin is tuple:
            return self._tuple(args, where)
        if origin in _DICTS and len(args) == 2:
            self._refuse_marker(args[0], f"{where}{{key}}")
            inner = self.cleaner(args[1], f"{where}[]")
            return _clean_dict(inner) if inner is not None else None
        self._refuse_marker(tp, where)
        return None

    def _refuse_marker(self, tp: Any, where: str) -> None:
        """Fail closed: a marker the walk cannot reach must not be silently ignored."""
        if isinstance(tp, Sanitize):
            raise ConfigurationError.expected("`Sanitize` on a field or item the decoder builds", tp, where)
        for arg in get_args(tp):
            self._refuse_marker(arg, where)

    def _struct(self, tp: Any, where: str) -> Cleaner | None:
        if tp in self._structs:  # also ends recursion: a cycle refers to the plan being built
            return self._structs[tp]
        plan = self._structs[tp] = _StructCleaner()
        fields: list[tuple[str, Cleaner]] = []
        for field in msgspec.structs.fields(tp):
            inner = self.cleaner(field.type, f"{_name(_struct_class(tp))}.{field.name}")
            if inner is not None:
                fields.append((field.name, inner))
        plan.fields = tuple(fields)
        if not fields:
            self._structs[tp] = None
            return None
        return plan

    def _other(self, cls: type) -> None:
        """Record a non-Struct class and refuse markers in it (they are only applied in Structs)."""
        if cls in self._others:
            return
        self._others[cls] = None
        for name, annotation in get_type_hints(cls, include_extras=True).items():
            if self.cleaner(annotation, f"{cls.__qualname__}.{name}") is not None:
                raise ConfigurationError.expected(
                    "`Sanitize` markers inside msgspec Structs only", cls.__qualname__, f"{cls.__qualname__}.{name}"
                )

    def _union(self, args: tuple[Any, ...], where: str) -> Cleaner | None:
        by_type: dict[type, Cleaner] = {}
        for arg in args:
            inner = self.cleaner(arg, where)
            if inner is None:
                continue
            for runtime in _runtime_types(arg):
                by_type[runtime] = inner
        return _clean_union(by_type) if by_type else None

    def _tuple(self, args: tuple[Any, ...], where: str) -> Cleaner | None:
        if len(args) == 2 and args[1] is Ellipsis:
            inner = self.cleaner(args[0], f"{where}[]")
            return _clean_tuple(inner) if inner is not None else None
        cleaners = tuple(self.cleaner(arg, f"{where}[{index}]") for index, arg in enumerate(args))
        return _clean_tuple(cleaners) if any(c is not None for c in cleaners) else None


def _is_other_class(tp: Any) -> bool:
    return isinstance(tp, type) and (dataclasses.is_dataclass(tp) or is_typeddict(tp) or hasattr(tp, "__attrs_attrs__"))


def _runtime_types(tp: Any) -> tuple[type, ...]:
    """The Python types the decoder produces for a union member that needs cleaning."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _runtime_types(get_args(tp)[0])
    if origin in _UNIONS:
        return tuple(runtime for arg in get_args(tp) for runtime in _runtime_types(arg))
    struct = _struct_class(tp)
    if struct is not None:
        return (struct,)
    if tp is str:
        return (str,)
    if origin in _LISTS:
        return (list,)
    if origin in _SETS:
        return (set, frozenset)
    if origin in _DICTS:
        return (dict,)
    return (tuple,)


__all__ = ("Cleaner", "SchemaWalker")
