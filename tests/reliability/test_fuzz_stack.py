"""Whole-stack fuzzing: hostile requests never get a 500 and never reach the app unchecked.

The example count comes from ``ASGI_GUARD_FUZZ_EXAMPLES`` (default 10,000, the CI budget; lower it
for a quick local loop, raise it for a long local run, e.g. ``ASGI_GUARD_FUZZ_EXAMPLES=200000``).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

from tests.reliability.hostile import HostileRequest, Outcome, exercise, hostile_requests, problems, terminal_app
from tests.reliability.layers import active_layers, build_stack

pytestmark = pytest.mark.reliability

EXAMPLES = int(os.environ.get("ASGI_GUARD_FUZZ_EXAMPLES", "10000"))


def test_hostile_requests_never_500_and_never_bypass() -> None:
    """Every hostile request is answered (or dropped on disconnect) with 200 or a stable 4xx, never an
    exception, and every request the app receives passed every configured layer's check."""
    layers = active_layers()
    outcomes: list[Outcome] = []
    stack = build_stack(terminal_app(layers, outcomes), layers)
    tally: Counter[str] = Counter()

    with asyncio.Runner() as runner:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        )
        @given(request=hostile_requests())
        def check(request: HostileRequest) -> None:
            outcome = runner.run(exercise(stack, request, outcomes))
            found = problems(request, outcome, layers)
            assert found == [], f"{found} for {request!r}"
            start = outcome.start
            tally["reached app" if outcome.reached_app and start is not None else "refused or dropped"] += 1
            tally[f"status {start['status'] if start else 'none'}"] += 1
            outcomes.clear()

        check()

    assert sum(count for key, count in tally.items() if key.startswith("status ")) >= min(EXAMPLES, 100)
    assert tally["reached app"] > 0, f"no request ever reached the app, the bypass check proved nothing: {tally}"
    print(f"layers: {[spec.name for spec in layers]}; {dict(tally)}")
