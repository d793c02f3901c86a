"""A cheap guard against deeply nested JSON, run on the raw bytes before decoding.

msgspec has no depth option: a few hundred kilobytes of ``[[[[…`` make it raise ``RecursionError``
after walking the whole stack. Counting brackets is one C call per bracket kind; only a body with
more brackets than the limit gets the exact scan (string literals removed, then a running depth
over the remaining brackets, all in C-level iterators). bench/micro/validation.py compares this
with decoding untyped and walking the result.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Final

# A JSON string literal, or an unterminated one running to the end (invalid JSON anyway, and msgspec
# stops there too). Possessive quantifiers keep each attempt linear, and since every attempt that
# starts at a quote succeeds, a body of `"` followed by thousands of `\"` costs one pass, not one
# pass per escaped quote (a quadratic scan a single request could turn into minutes of CPU).
_STRING: Final = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS: Final = bytes(sorted(set(range(256)) - set(b"[]{}")))
# Opening brackets become 2 and closing ones 0, so that ``value - 1`` is the depth step.
_STEPS: Final = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_STEP: Final = (-1).__add__
_CHUNK: Final = 4096


def nesting_depth(body: bytes, stop_above: int | None = None) -> int:
    """The deepest bracket nesting of ``body``, brackets inside strings not counted.

    With ``stop_above``, the scan stops at the first chunk that goes deeper than it (a bomb costs
    one chunk, not the whole body) and returns a depth greater than ``stop_above``.
    """
    if b'"' in body:
        body = _STRING.sub(b"", body)
    steps = body.translate(_STEPS, _NOT_BRACKETS)
    depth = deepest = 0
    for start in range(0, len(steps), _CHUNK):
        levels = list(accumulate(map(_STEP, steps[start : start + _CHUNK]), initial=depth))
        deepest = max(deepest, max(levels))
        depth = levels[-1]
        if stop_above is not None and deepest > stop_above:
            break
    return deepest


def too_deep(body: bytes, limit: int) -> bool:
    """Whether ``body`` nests arrays and objects more than ``limit`` levels deep."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    return nesting_depth(body, limit) > limit


__all__ = ("nesting_depth", "too_deep")
