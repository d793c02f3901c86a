"""One bounded memo for the hot path: remembered results, forgotten all at once when full.

The same few paths, headers, callers and role sets come back request after request; recomputing
them costs a regex, a hash or a few allocations, a lookup well under a microsecond. Clearing when
full (rather than evicting one by one) keeps a hit a plain ``dict.get`` and a flood of fresh keys
bounded: it costs only the work it would have cost anyway. Values too large to pin are the
caller's to skip (``put`` is only called for keys worth keeping).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterator

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """At most ``limit`` remembered entries; ``get`` is the dict's own (``get(key, default)``)."""

    __slots__ = ("_data", "get", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"Expected a memo limit >= 1, got {limit}")
        self.limit = limit
        self._data: dict[K, V] = {}
        self.get = self._data.get

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` (forgetting everything first when full); returns ``value``."""
        data = self._data
        if len(data) >= self.limit and key not in data:
            data.clear()
        data[key] = value
        return value

    def clear(self) -> None:
        self._data.clear()

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


__all__ = ("Memo",)
