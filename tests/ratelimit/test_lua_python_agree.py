"""The Lua script and the Python GCRA agree, decision for decision, on random sequences.

To make Redis deterministic the test runs a copy of the production script whose single ``TIME``
call is replaced by the two trailing arguments (seconds, microseconds). Key expiry runs on the
server's real clock, which that copy does not control, so the copy also lengthens each TTL by an
hour (keys must not vanish while the fixed clock stands still); the arithmetic is untouched. The
production script never reads the time from its arguments.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_guard.ratelimit.gcra import Check
from asgi_guard.ratelimit.memory import MemoryRateLimitBackend
from asgi_guard.ratelimit.script import SCRIPT, parse_reply
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.redis

TIME_LINE = 'local time = redis.call("TIME")'
FIXED_TIME = "local time = {ARGV[#ARGV - 1], ARGV[#ARGV]}"
TTL = "math.ceil((new_tat - now) / 1000)"
START = 1_700_000_000_000_000
_examples = itertools.count()


@pytest.fixture(scope="module")
def fixed_now(redis_server: RedisServer) -> Iterator[tuple[redis.Redis, str]]:
    """A sync client and the SHA of the fixed-clock copy of ``bucket.lua``."""
    assert SCRIPT.count(TIME_LINE) == 1
    assert SCRIPT.count(TTL) == 2
    client = redis.Redis.from_url(redis_server.url)
    sha = client.script_load(SCRIPT.replace(TIME_LINE, FIXED_TIME).replace(TTL, TTL + " + 3600000"))
    yield client, sha
    client.close()


limit_specs = st.lists(
    st.tuples(
        st.sampled_from([1, 7, 1000, 333_333, 1_000_000, 60_000_000]),  # interval µs
        st.integers(1, 6),  # burst
        st.booleans(),  # enforced
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[tuple[int, int, bool]], list[tuple[int, list[int]]]]:
    limits = draw(limit_specs)
    longest = max(interval * burst for interval, burst, _ in limits)
    steps = draw(
        st.lists(
            st.tuples(
                st.one_of(st.just(0), st.integers(0, longest), st.integers(0, 2 * longest)),
                st.lists(st.integers(0, 6), min_size=len(limits), max_size=len(limits)),
            ),
            min_size=1,
            max_size=25,
        )
    )
    return limits, steps


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_lua_and_python_agree(fixed_now: tuple[redis.Redis, str], scenario: tuple) -> None:
    """For any limits and any sequence of (elapsed time, costs), both backends decide identically."""
    client, sha = fixed_now
    limits, steps = scenario
    example = next(_examples)
    memory = MemoryRateLimitBackend()
    now = START
    for elapsed, costs in steps:
        now += elapsed
        checks = [
            Check(f"prop:{example}:{{s}}:{i}", interval, burst, min(cost, burst), enforced)
            for i, ((interval, burst, enforced), cost) in enumerate(zip(limits, costs, strict=True))
        ]
        expected = memory.check_at(now, checks)
        args: list[object] = ["c"]
        for check in checks:
            args += [check.interval_us, check.burst, check.cost, int(check.enforce)]
        reply = client.evalsha(sha, len(checks), *(c.key for c in checks), *args, now // 1_000_000, now % 1_000_000)
        allowed, redis_now, states = parse_reply(reply, len(checks))
        assert redis_now == now
        assert allowed == expected.allowed
        assert tuple(states) == expected.states
