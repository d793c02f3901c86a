"""The one bounded memo of the hot path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_guard._memo import Memo


def test_get_put_and_default() -> None:
    """get is the dict's (with a default); put returns the value; None values are remembered too."""
    memo: Memo[str, int | None] = Memo(4)
    assert memo.get("a") is None
    assert memo.get("a", 7) == 7
    assert memo.put("a", None) is None
    assert "a" in memo
    assert memo.get("a", 7) is None
    assert memo.put("b", 2) == 2
    assert len(memo) == 2
    assert list(memo) == ["a", "b"]
    memo.clear()
    assert len(memo) == 0
    assert memo.get("b") is None


@given(st.lists(st.integers(0, 50), max_size=300), st.integers(1, 10))
def test_never_exceeds_its_limit_and_keeps_the_latest(keys: list[int], limit: int) -> None:
    """However many keys arrive, at most `limit` are kept and the last one put is always there."""
    memo: Memo[int, int] = Memo(limit)
    for key in keys:
        memo.put(key, key * 2)
        assert len(memo) <= limit
        assert memo.get(key) == key * 2


def test_rewriting_a_key_when_full_keeps_the_rest() -> None:
    """Overwriting a present key never counts as growth."""
    memo: Memo[str, int] = Memo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("a", 3)
    assert (memo.get("a"), memo.get("b")) == (3, 2)
    memo.put("c", 4)
    assert (memo.get("a"), memo.get("c")) == (None, 4)


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        Memo(0)
