"""The raw-bytes nesting check that runs before decoding."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard.validation._depth import _STRING, nesting_depth, too_deep


def reference_depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value."""
    if isinstance(value, list):
        return 1 + max((reference_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((reference_depth(item) for item in value.values()), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('ab[]{}"\\ \n')),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=st.sampled_from('k[]{}"\\')), children, max_size=4)
    ),
    max_leaves=40,
)


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"", 0),
        (b"1", 0),
        (b"[]", 1),
        (b'[[{"a": {}}]]', 4),
        (b'{"a": "[[[[{{{{"}', 1),
        (rb'["\"[[[", [1]]', 2),
        (rb'["\\", [[1]]]', 3),
        (b"]]]]", 0),
        (b'["unterminated [[[', 1),  # the string runs to the end, as msgspec reads it: no nesting inside
    ],
)
def test_nesting_depth_ignores_brackets_in_strings(body: bytes, depth: int) -> None:
    """Brackets inside string literals (escaped quotes included) do not count."""
    assert nesting_depth(body) == depth


@settings(max_examples=300)
@given(json_values)
def test_nesting_depth_matches_the_decoded_structure(value: Any) -> None:
    """On any JSON document the scan agrees with the depth of the decoded value."""
    body = msgspec.json.encode(value)
    assert nesting_depth(body) == reference_depth(value)
    assert too_deep(body, 3) == (reference_depth(value) > 3)


def test_too_deep_short_circuits_when_few_brackets() -> None:
    """A body with fewer brackets than the limit is accepted without a scan."""
    assert not too_deep(b'{"a": [1, 2, {"b": 3}]}', 3)
    assert too_deep(b"[" * 40 + b"]" * 40, 32)
    assert not too_deep(b'["' + b"[" * 100 + b'"]', 32)


def test_depth_carries_across_scan_chunks() -> None:
    """Bodies with thousands of brackets are measured exactly across the scan's chunks."""
    wide = b"[" + b"[1]," * 5000 + b"[1]]"
    assert nesting_depth(wide) == 2
    late = b"[" + b"[]," * 3000 + b"[" * 40 + b"]" * 40 + b"]"
    assert nesting_depth(late) == 41
    assert too_deep(late, 40)
    assert not too_deep(late, 41)


def test_scan_stops_early_on_a_bomb() -> None:
    """With stop_above, a bomb is reported past the limit after one chunk instead of its full depth."""
    bomb = b"[" * 100_000
    assert nesting_depth(bomb) == 100_000
    assert 32 < nesting_depth(bomb, stop_above=32) <= 4096


def test_huge_bomb_is_refused() -> None:
    """A megabyte of opening brackets is caught by the scan (msgspec itself would hit RecursionError)."""
    assert too_deep(b"[" * 1_000_000, 512)


@pytest.mark.parametrize("tail", [b"", b"\\"], ids=["unterminated", "lone-backslash"])
def test_escaped_quote_flood_is_one_string_match(tail: bytes) -> None:
    """`"` then 50,000 `\\"` is one (unterminated) string match, so the scan is one pass, not one per quote."""
    flood = b'"' + b'\\"' * 50_000 + tail
    assert _STRING.fullmatch(flood) is not None
    assert nesting_depth(b"[" * 40 + flood) == 40
    assert too_deep(b"[" * 40 + flood, 32)
