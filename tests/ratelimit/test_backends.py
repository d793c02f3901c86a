"""GCRA semantics, run identically against the memory backend and a real Redis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard.ratelimit.gcra import Check
from tests.ratelimit.helpers import Harness

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

SECOND = 1_000_000
SLOW = 60 * SECOND  # one token a minute: nothing refills while a test runs


def bucket(name: str, *, burst: int = 3, cost: int = 1, interval: int = SLOW, enforce: bool = True) -> Check:
    return Check(f"rl:{{t}}:{name}", interval, burst, cost, enforce)


class TestBackendSemantics:
    """Both backends must agree on every observable of a request's outcome."""

    async def test_burst_then_refusal(self, harness: Harness) -> None:
        """A bucket admits exactly its burst, then refuses with a retry-after of about one interval."""
        results = [await harness.check(bucket("a")) for _ in range(4)]
        assert [r.allowed for r in results] == [True, True, True, False]
        assert [r.states[0].remaining for r in results[:3]] == [2, 1, 0]  # type: ignore[union-attr]
        refused = results[3].states[0]
        assert refused is not None
        assert refused.remaining == 0
        assert SLOW - SECOND < refused.retry_after_us <= SLOW
        assert 3 * SLOW - SECOND < refused.reset_us <= 3 * SLOW

    async def test_refill_after_time_passes(self, harness: Harness) -> None:
        """An emptied bucket admits one more request per elapsed interval."""
        for _ in range(3):
            await harness.check(bucket("a"))
        assert not (await harness.check(bucket("a"))).allowed
        await harness.advance(61)
        assert (await harness.check(bucket("a"))).allowed
        assert not (await harness.check(bucket("a"))).allowed
        await harness.advance(3 * 60 + 1)
        assert [(await harness.check(bucket("a"))).allowed for _ in range(4)] == [True, True, True, False]

    async def test_all_or_nothing(self, harness: Harness) -> None:
        """When one limit refuses, no limit of the request is consumed."""
        tight = bucket("tight", burst=1)
        loose = bucket("loose", burst=10)
        assert (await harness.check(tight, loose)).allowed
        refused = await harness.check(tight, loose)
        assert not refused.allowed
        loose_state = refused.states[1]
        assert loose_state is not None
        assert loose_state.allowed
        assert loose_state.remaining == 9  # reported before this (unconsumed) request
        assert (await harness.check(loose)).states[0].remaining == 8  # type: ignore[union-attr]

    async def test_cost_weights_a_request(self, harness: Harness) -> None:
        """A request of cost c takes c tokens and is refused when fewer than c remain."""
        first = await harness.check(bucket("w", burst=10, cost=4))
        assert first.states[0].remaining == 6  # type: ignore[union-attr]
        assert (await harness.check(bucket("w", burst=10, cost=4))).allowed
        refused = await harness.check(bucket("w", burst=10, cost=4))
        assert not refused.allowed
        assert refused.states[0].remaining == 2  # type: ignore[union-attr]
        assert 2 * SLOW - SECOND < refused.states[0].retry_after_us <= 2 * SLOW  # type: ignore[union-attr]
        assert (await harness.check(bucket("w", burst=10, cost=2))).allowed

    async def test_zero_cost_peeks(self, harness: Harness) -> None:
        """A cost of zero reports the bucket without taking from it."""
        await harness.check(bucket("p"))
        peek = await harness.check(bucket("p", cost=0))
        assert peek.allowed
        assert peek.states[0].remaining == 2  # type: ignore[union-attr]
        assert (await harness.check(bucket("p", cost=0))).states[0].remaining == 2  # type: ignore[union-attr]

    async def test_shadow_limit_never_vetoes(self, harness: Harness) -> None:
        """A shadow limit that is exhausted is reported as refusing but the request and others proceed."""
        shadow = bucket("s", burst=1, enforce=False)
        real = bucket("r", burst=5)
        assert (await harness.check(shadow, real)).allowed
        second = await harness.check(shadow, real)
        assert second.allowed
        assert second.states[0] is not None
        assert not second.states[0].allowed
        assert second.states[1].remaining == 3  # type: ignore[union-attr]

    async def test_keys_are_independent(self, harness: Harness) -> None:
        """Exhausting one key leaves another untouched."""
        await harness.check(bucket("x", burst=1))
        assert not (await harness.check(bucket("x", burst=1))).allowed
        assert (await harness.check(bucket("y", burst=1))).allowed

    async def test_fast_rate_interval(self, harness: Harness) -> None:
        """The interval is microseconds per token: 10 per second spaces tokens 100 ms apart."""
        fast = bucket("f", burst=1, interval=100_000)
        assert (await harness.check(fast)).allowed
        refused = (await harness.check(fast)).states[0]
        assert refused is not None
        assert 0 < refused.retry_after_us <= 100_000
        await harness.advance(0.1)
        assert (await harness.check(fast)).allowed


class TestMemoryBounds:
    """The memory backend stays bounded."""

    async def test_eviction_and_expiry(self) -> None:
        """Past max_keys the least recently used key goes; expired keys are dropped as checks pass."""
        from asgi_guard.ratelimit.memory import MemoryRateLimitBackend
        from asgi_guard.testing import FakeClock

        clock = FakeClock()
        memory = MemoryRateLimitBackend(clock=clock, max_keys=3)
        for name in "abcd":
            await memory.check([bucket(name, burst=1)])
        assert len(memory) == 3
        assert (await memory.check([bucket("a", burst=1)])).allowed  # "a" was evicted: a full bucket again
        clock.advance(3600)
        await memory.check([bucket("z", burst=1, cost=0)])
        assert len(memory) == 2  # one expired key dropped by that check

    async def test_check_now_is_check_without_the_coroutine(self) -> None:
        """The synchronous entry the middleware uses consumes the same buckets as ``check``."""
        from asgi_guard.ratelimit.memory import MemoryRateLimitBackend
        from asgi_guard.testing import FakeClock

        memory = MemoryRateLimitBackend(clock=FakeClock())
        assert memory.check_now([bucket("n", burst=2)]).allowed
        assert (await memory.check([bucket("n", burst=2)])).allowed
        refused = memory.check_now([bucket("n", burst=2)])
        assert not refused.allowed
        state = refused.states[0]
        assert state is not None
        assert state.retry_after_us > 0


def test_evaluate_needs_one_stored_value_per_check() -> None:
    """A stored list that does not line up with the checks is a programming error, never a decision."""
    from asgi_guard.ratelimit.gcra import evaluate

    def store(key: str, tat: int, ttl: int) -> None:
        raise AssertionError("nothing may be stored")

    with pytest.raises(ValueError, match="one stored value per check"):
        evaluate(0, [bucket("a"), bucket("b")], [None], store)


@settings(max_examples=300, deadline=None)
@given(
    now=st.integers(0, 10**12),
    old=st.one_of(st.none(), st.integers(0, 2 * 10**12)),
    interval=st.sampled_from([1, 7, 1000, 333_333, 60_000_000]),
    burst=st.integers(1, 6),
    cost=st.integers(0, 6),
    enforce=st.booleans(),
)
def test_single_check_shortcut_matches_the_general_steps(
    now: int, old: int | None, interval: int, burst: int, cost: int, enforce: bool
) -> None:
    """evaluate of one check decides and stores exactly what the general loop does for it.

    The general loop runs when a second check rides along: a shadow check with a huge bucket never
    refuses, so it cannot change the first check's outcome.
    """
    from asgi_guard.ratelimit.gcra import evaluate

    check = Check("one", interval, burst, min(cost, burst), enforce)
    rider = Check("rider", 1, 10**9, 0, False)
    alone: list[tuple[str, int, int]] = []
    paired: list[tuple[str, int, int]] = []
    single = evaluate(now, [check], [old], lambda *stored: alone.append(stored))
    general = evaluate(now, [check, rider], [old, None], lambda *stored: paired.append(stored))
    assert (single.allowed, single.now_us, single.states) == (general.allowed, general.now_us, general.states[:1])
    assert alone == [stored for stored in paired if stored[0] == "one"]


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 3 * SECOND), st.integers(0, 4), st.sampled_from(["a", "b"]), st.booleans()),
        min_size=1,
        max_size=30,
    ),
    burst=st.integers(1, 5),
)
def test_check_one_now_matches_check_now(steps: list[tuple[int, int, str, bool]], burst: int) -> None:
    """The middleware's one-limit entry decides, reports and stores exactly what ``check_now`` does."""
    from asgi_guard.ratelimit.memory import MemoryRateLimitBackend
    from asgi_guard.testing import FakeClock

    clock = FakeClock()
    general = MemoryRateLimitBackend(clock=clock, max_keys=1)
    shortcut = MemoryRateLimitBackend(clock=clock, max_keys=1)
    for advance, cost, name, enforce in steps:
        clock.advance(advance / SECOND)
        check = bucket(name, burst=burst, cost=min(cost, burst), interval=SECOND // 2, enforce=enforce)
        outcome = general.check_now([check])
        state = outcome.states[0]
        assert state is not None
        now, allowed, remaining, reset_us, retry_us = shortcut.check_one_now(check)
        assert (now, allowed, remaining, reset_us, retry_us) == (outcome.now_us, *state)
        assert outcome.allowed == (allowed or not enforce)
        assert len(general) == len(shortcut)
