"""Where pattern state lives: windowed counters and capped distinct sets, in memory or in Redis.

Redis keeps them in ``patterns.lua`` (one script call per hash slot, all slots at once: one round
trip), so every instance sharing the server sees one count. A window opens with a key's first
occurrence and lasts ``window`` seconds; a set never holds more than its cap (the threshold), so an
attacker trying a million credentials costs a bounded amount of memory.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from asgi_guard.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from collections.abc import Sequence

    from redis.asyncio import Redis

SCRIPT: Final = files("asgi_guard.abuse").joinpath("patterns.lua").read_text(encoding="utf-8")


class Op(NamedTuple):
    """One observation: count one more (``member`` ``None``) or add ``member`` to a distinct set."""

    key: str
    member: str | None
    cap: int
    window_ms: int


class Tally(NamedTuple):
    """What an :class:`Op` left behind: the count in the window, whether this op counted, ms left."""

    total: int
    added: bool
    ttl_ms: int


class PatternStore(Protocol):
    """Applies observations atomically per key and answers the counts."""

    async def observe(self, ops: Sequence[Op]) -> list[Tally]: ...


class MemoryPatternStore:
    """Per process, bounded (LRU, ``max_keys``), on an injectable monotonic clock."""

    __slots__ = ("_clock", "_entries", "_max")

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max = max_keys
        self._entries: OrderedDict[str, tuple[float, list[int], set[str]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def observe(self, ops: Sequence[Op]) -> list[Tally]:
        now = self._clock.monotonic()
        entries = self._entries
        tallies: list[Tally] = []
        for op in ops:
            found = entries.get(op.key)
            if found is not None and found[0] <= now:
                del entries[op.key]
                found = None
            if found is None:
                found = (now + op.window_ms / 1000, [0], set())
            expires, counter, members = found
            added = False
            if op.member is None:
                counter[0] += 1
                added = True
                count = counter[0]
            else:
                if len(members) < op.cap and op.member not in members:
                    members.add(op.member)
                    added = True
                count = len(members)
            if count:
                entries[op.key] = found
                entries.move_to_end(op.key)
                if len(entries) > self._max:
                    entries.popitem(last=False)
            tallies.append(Tally(count, added, max(0, int((expires - now) * 1000))))
        return tallies


class RedisPatternStore:
    """Pattern state in Redis (standalone or Cluster), through redis-py's public ``Script``."""

    __slots__ = ("_client", "_cluster", "_script")

    def __init__(self, client: Redis | RedisCluster) -> None:
        self._client = client
        self._cluster = isinstance(client, RedisCluster)
        self._script = client.register_script(SCRIPT)

    async def observe(self, ops: Sequence[Op]) -> list[Tally]:
        groups: dict[int, list[int]] = {}
        for index, op in enumerate(ops):
            slot = key_slot(op.key.encode()) if self._cluster else 0
            groups.setdefault(slot, []).append(index)
        calls = [self._call([ops[index] for index in group]) for group in groups.values()]
        replies = await asyncio.gather(*calls)
        tallies: list[Tally | None] = [None] * len(ops)
        for group, reply in zip(groups.values(), replies, strict=True):
            for position, index in enumerate(group):
                count, added, ttl = reply[3 * position : 3 * position + 3]
                tallies[index] = Tally(int(count), int(added) == 1, max(0, int(ttl)))
        return [tally for tally in tallies if tally is not None]

    async def _call(self, ops: list[Op]) -> Any:
        args: list[str | int] = []
        for op in ops:
            args += ("n" if op.member is None else "d", op.member or "", op.cap, op.window_ms)
        return await self._script(keys=[op.key for op in ops], args=args)


__all__ = ("SCRIPT", "MemoryPatternStore", "Op", "PatternStore", "RedisPatternStore", "Tally")
