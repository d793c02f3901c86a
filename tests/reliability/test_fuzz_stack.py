"""Whole-stack fuzzing: hostile requests never get a 500 and never reach the app unchecked.

The example count comes from ``ASGI_GUARD_FUZZ_EXAMPLES`` (default 10,000, the CI budget; lower it
for a quick local loop, raise it for a long local run, e.g. ``ASGI_GUARD_FUZZ_EXAMPLES=200000``).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from asgi_guard.errors import ConfigurationError
from tests.reliability.driver import Outcome, exercise, problems, terminal_app
from tests.reliability.hostile import HostileRequest, hostile_requests
from tests.reliability.layers import active_layers, build_stack

pytestmark = pytest.mark.reliability

EXAMPLES = int(os.environ.get("ASGI_GUARD_FUZZ_EXAMPLES", "10000"))


# Hypothesis warns when it builds the repr of a huge generated request (only for reporting): noise here.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
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


# Hypothesis warns when it builds the repr of a huge generated request (only for reporting): noise here.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_dropping_any_layer_lets_the_fuzzer_find_a_bypass() -> None:
    """The app's checks are not vacuous: with any one active layer removed from the stack (and its
    check still in the app), the fuzzer finds a request that the app flags, unless ``guard()`` itself
    refuses the weakened combination."""
    layers = active_layers()
    for dropped in layers:
        kept = [spec for spec in layers if spec is not dropped]
        outcomes: list[Outcome] = []
        try:
            stack = build_stack(terminal_app(layers, outcomes), kept)
        except ConfigurationError:
            continue  # e.g. RBAC without authentication: refused at construction, nothing to bypass
        with asyncio.Runner() as runner:

            def bypassed(request: HostileRequest, stack: object = stack, outcomes: list[Outcome] = outcomes) -> bool:
                try:
                    outcome = runner.run(exercise(stack, request, outcomes))
                except Exception:  # the app's own check raised: the missing layer was noticed
                    return True
                finally:
                    outcomes.clear()
                return bool(outcome.violations)

            found = find(
                hostile_requests(),
                bypassed,
                settings=settings(
                    max_examples=3000,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                ),
            )
        # ``find`` raises NoSuchExample when no request within the budget got through unnoticed.
        print(f"without {dropped.name}: bypass found ({found.method} {found.path})")
