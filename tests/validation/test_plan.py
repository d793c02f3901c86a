"""Compiling schemas into sanitisers: every container the decoder builds, and misplaced markers."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Generic, Literal, Optional, TypedDict, TypeVar, Union

import msgspec
import pytest

from asgi_guard.errors import ConfigurationError
from asgi_guard.validation import Sanitize, SanitizedStr
from asgi_guard.validation._plan import SchemaWalker

T = TypeVar("T")
DIRTY = "<i>x</i>"


class Leaf(msgspec.Struct, frozen=True):
    text: SanitizedStr
    plain: str = DIRTY


class Tree(msgspec.Struct):
    name: SanitizedStr
    children: list[Tree] = []


class Page(msgspec.Struct, Generic[T]):
    items: list[T]


class Nothing(msgspec.Struct):
    a: int
    b: str


@dataclasses.dataclass
class PlainNode:
    name: str
    children: list[PlainNode]
    leaf: Nothing | None = None


class Movie(TypedDict):
    title: str


@dataclasses.dataclass
class MarkedData:
    text: SanitizedStr


class MarkedDict(TypedDict):
    items: list[SanitizedStr]


def clean(tp: Any, value: Any) -> Any:
    """Decode ``value`` as ``tp`` and run the compiled sanitiser over it."""
    decoded = msgspec.convert(value, tp)
    cleaner = SchemaWalker().cleaner(tp, "$")
    assert cleaner is not None
    return msgspec.json.decode(msgspec.json.encode(cleaner(decoded)))


@pytest.mark.parametrize(
    ("tp", "value", "expected"),
    [
        (SanitizedStr, DIRTY, "x"),
        (Leaf, {"text": DIRTY}, {"text": "x", "plain": DIRTY}),
        (
            list[Leaf],
            [{"text": DIRTY}, {"text": "ok"}],
            [{"text": "x", "plain": DIRTY}, {"text": "ok", "plain": DIRTY}],
        ),
        (Sequence[SanitizedStr], [DIRTY, "y"], ["x", "y"]),
        (tuple[SanitizedStr, ...], [DIRTY, DIRTY], ["x", "x"]),
        (tuple[int, SanitizedStr], [1, DIRTY], [1, "x"]),
        (set[SanitizedStr], [DIRTY], ["x"]),
        (frozenset[SanitizedStr], [DIRTY], ["x"]),
        (dict[str, SanitizedStr], {"k": DIRTY, "j": "ok"}, {"k": "x", "j": "ok"}),
        (Mapping[str, list[Leaf]], {"k": [{"text": DIRTY}]}, {"k": [{"text": "x", "plain": DIRTY}]}),
        # typing.Optional / typing.Union on purpose: both spellings of a union must be followed.
        (Optional[SanitizedStr], DIRTY, "x"),  # noqa: UP045
        (SanitizedStr | None, None, None),
        (Leaf | None, {"text": DIRTY}, {"text": "x", "plain": DIRTY}),
        (Union[Leaf, SanitizedStr, list[SanitizedStr], int], [DIRTY], ["x"]),  # noqa: UP007
        (Leaf | SanitizedStr | list[SanitizedStr] | int, 5, 5),
        (dict[str, SanitizedStr] | set[SanitizedStr] | None, {"a": DIRTY}, {"a": "x"}),
        (
            Annotated[Leaf | None, msgspec.Meta(title="t")] | int,
            {"text": DIRTY},
            {"text": "x", "plain": DIRTY},
        ),
        (tuple[SanitizedStr, ...] | None, [DIRTY], ["x"]),
        (Annotated[list[SanitizedStr], msgspec.Meta(max_length=3)], [DIRTY], ["x"]),
        (
            Tree,
            {"name": DIRTY, "children": [{"name": DIRTY}]},
            {"name": "x", "children": [{"name": "x", "children": []}]},
        ),
        (Page[Leaf], {"items": [{"text": DIRTY}]}, {"items": [{"text": "x", "plain": DIRTY}]}),
    ],
)
def test_marked_strings_are_cleaned_wherever_the_decoder_puts_them(tp: Any, value: Any, expected: Any) -> None:
    """Marked strings in structs, lists, tuples, sets, dict values and unions are cleaned; others are not."""
    assert clean(tp, value) == expected


def test_frozen_structs_are_cleaned_in_place() -> None:
    """A frozen Struct's marked field is replaced without rebuilding the object."""
    leaf = msgspec.convert({"text": DIRTY}, Leaf)
    cleaner = SchemaWalker().cleaner(Leaf, "$")
    assert cleaner is not None
    assert cleaner(leaf) is leaf
    assert leaf.text == "x"


@pytest.mark.parametrize(
    "tp",
    [
        str,
        int,
        Nothing,
        list[Nothing],
        dict[str, int],
        Literal["a", "b"],
        Nothing | None,
        tuple[int, str],
        Any,
        collections.deque[int],
    ],
)
def test_schemas_without_markers_need_no_cleaner(tp: Any) -> None:
    """Nothing marked means no per-request work at all."""
    assert SchemaWalker().cleaner(tp, "$") is None


def test_walker_records_every_struct_reached() -> None:
    """The walk lists every Struct class reachable from the schemas, once, sorted by name."""
    walker = SchemaWalker()
    walker.cleaner(list[Leaf] | Tree, "$")
    walker.cleaner(Page[Nothing], "$")
    walker.cleaner(Leaf, "$")
    assert walker.structs == (Leaf, Nothing, Page, Tree)


def test_non_struct_classes_are_recorded_and_walked() -> None:
    """Dataclasses and TypedDicts are listed (they cannot forbid unknown fields) and their Structs found."""
    walker = SchemaWalker()
    assert walker.cleaner(list[PlainNode] | Movie, "$") is None
    assert walker.other_classes == (PlainNode, Movie)
    assert walker.structs == (Nothing,)


@dataclasses.dataclass
class HoldsMarkedStruct:
    leaf: Leaf


@pytest.mark.parametrize(
    ("tp", "where"),
    [
        (MarkedData, "MarkedData.text"),
        (dict[str, MarkedDict], "MarkedDict.items"),
        (HoldsMarkedStruct, "HoldsMarkedStruct.leaf"),
    ],
)
def test_markers_outside_structs_are_refused(tp: Any, where: str) -> None:
    """Sanitising runs in Structs only, so a marker reached through a dataclass or TypedDict fails at construction."""
    with pytest.raises(
        ConfigurationError, match=rf"Expected `Sanitize` markers inside msgspec Structs only.*- at `{where}`"
    ):
        SchemaWalker().cleaner(tp, "$")


@pytest.mark.parametrize(
    ("tp", "where"),
    [
        (Annotated[int, Sanitize()], "$"),
        (Annotated[str, Sanitize(), Sanitize(tags={"b"})], "$"),
        (Annotated[str | None, Sanitize()], "$"),
        (dict[SanitizedStr, str], "${key}"),
        (collections.deque[SanitizedStr], "$"),
        (Annotated[list[str], Sanitize()], "$"),
    ],
)
def test_misplaced_markers_are_refused(tp: Any, where: str) -> None:
    """A marker on a non-string, twice, on a dict key or in an unsupported container fails at construction."""
    with pytest.raises(ConfigurationError, match=rf"- at `{where.replace('$', '[$]')}`"):
        SchemaWalker().cleaner(tp, "$")


def test_misplaced_marker_in_a_struct_names_the_field() -> None:
    """The error points at `Struct.field`."""

    class Bad(msgspec.Struct):
        count: Annotated[int, Sanitize()]

    with pytest.raises(ConfigurationError, match=r"- at `Bad.count`"):
        SchemaWalker().cleaner(Bad, "$")
