"""Rate-limit test helpers: a backend harness that can let time pass, and principals built directly."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from asgi_guard.principal import Principal
from asgi_guard.ratelimit.gcra import Check, Outcome
from asgi_guard.testing import FakeClock

# GCRA state depends only on (TAT - now): moving every stored TAT back is exactly time passing.
_AGE = """
for _, key in ipairs(redis.call('KEYS', ARGV[2])) do
  local tat = tonumber(redis.call('GET', key))
  redis.call('SET', key, string.format('%d', tat - tonumber(ARGV[1])), 'KEEPTTL')
end
return 0
"""


class Harness:
    """A backend under test plus ``advance(seconds)``, for the memory backend or a real Redis."""

    def __init__(self, kind: str, backend: Any, clock: FakeClock, client: aioredis.Redis | None) -> None:
        self.kind = kind
        self.backend = backend
        self.clock = clock
        self.client = client

    async def check(self, *checks: Check) -> Outcome:
        outcome: Outcome = await self.backend.check(checks)
        return outcome

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for every bucket (the deny cache's monotonic clock included)."""
        self.clock.advance(seconds)
        if self.client is not None:
            await self.client.eval(_AGE, 0, int(seconds * 1_000_000), "rl:*")


def principal(
    id: str = "alice", *, roles: frozenset[str] = frozenset({"user"}), method: str = "jwt", **options: Any
) -> Principal:
    """A principal built directly, as authentication would (no dependency on the auth package)."""
    fingerprint = options.pop("key_fingerprint", "fp-" + id if method == "api_key" else "")
    return Principal(id, roles=roles, method=method, key_fingerprint=fingerprint, **options)
