"""GCRA, the arithmetic both backends share: one stored number per key, integer microseconds.

A bucket of ``burst`` tokens refilling one token every ``interval`` is stored as its theoretical
arrival time (TAT): the instant the bucket would be full again. A request of ``cost`` tokens is
allowed when ``max(tat, now) + cost * interval - burst * interval <= now``. :mod:`bucket.lua` runs
the same steps inside Redis; the property test in ``tests/ratelimit`` holds them to agreement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class Check(NamedTuple):
    """One limit to check and consume, as the backends see it.

    Attributes:
        key: the storage key (already carrying its hash tag).
        interval_us: microseconds per token.
        burst: bucket capacity, in tokens.
        cost: tokens this request takes.
        enforce: ``False`` for shadow limits: evaluated and reported, never vetoing the others.
    """

    key: str
    interval_us: int
    burst: int
    cost: int
    enforce: bool = True


class State(NamedTuple):
    """The outcome for one :class:`Check`.

    Attributes:
        allowed: this limit had room for the request.
        remaining: whole tokens left after this request (before it, when the request was refused).
        reset_us: microseconds until the bucket is full again.
        retry_after_us: microseconds until this request's cost would fit (0 when allowed).
    """

    allowed: bool
    remaining: int
    reset_us: int
    retry_after_us: int


class Outcome(NamedTuple):
    """All limits of one request: consumed together or not at all (``cached``: refused locally)."""

    allowed: bool
    now_us: int
    states: tuple[State | None, ...]
    cached: bool = False


def evaluate(
    now: int,
    checks: Sequence[Check],
    stored: Sequence[int | None],
    store: Callable[[str, int, int], None],
) -> Outcome:
    """Decide every check at ``now`` against ``stored`` TATs; on success call ``store(key, tat, ttl_us)``.

    Mirrors ``bucket.lua`` line for line (same order of operations, same integer rounding).
    """
    if len(stored) != len(checks):
        raise ValueError("evaluate() needs one stored value per check")
    if len(checks) == 1:
        return _evaluate_one(now, checks[0], stored[0], store)
    tats: list[int] = []
    denied = False
    for index, check in enumerate(checks):
        old = stored[index]
        tat = now if old is None or old < now else old
        tats.append(tat)
        if check.enforce and tat + (check.cost - check.burst) * check.interval_us > now:
            denied = True
    states: list[State | None] = []
    for index, check in enumerate(checks):
        tat = tats[index]
        interval = check.interval_us
        span = check.burst * interval
        new_tat = tat + check.cost * interval
        allow_at = new_tat - span
        if allow_at > now:
            states.append(State(False, max(0, (span - (tat - now)) // interval), tat - now, allow_at - now))
        elif denied:
            states.append(State(True, (span - (tat - now)) // interval, tat - now, 0))
        else:
            if new_tat > now:
                store(check.key, new_tat, new_tat - now)
            states.append(State(True, (span - (new_tat - now)) // interval, new_tat - now, 0))
    return Outcome(not denied, now, tuple(states))


def _evaluate_one(now: int, check: Check, old: int | None, store: Callable[[str, int, int], None]) -> Outcome:
    """:func:`evaluate` of a single check (most requests have one limit per placement)."""
    allowed, remaining, reset_us, retry_us, new_tat = evaluate_one(now, check, old)
    if new_tat is not None:
        store(check.key, new_tat, reset_us)
    return Outcome(allowed or not check.enforce, now, (State(allowed, remaining, reset_us, retry_us),))


def evaluate_one(now: int, check: Check, old: int | None) -> tuple[bool, int, int, int, int | None]:
    """One check's :class:`State` fields and the TAT to store (``None``: store nothing), as a plain tuple.

    The steps of :func:`evaluate` with the loops unrolled: the check is refused exactly when its
    ``allow_at`` is in the future (``tat + (cost - burst) * interval`` is ``allow_at``). The caller
    makes an enforced refusal the outcome; a shadow refusal does not veto.
    """
    tat = now if old is None or old < now else old
    interval = check.interval_us
    span = check.burst * interval
    new_tat = tat + check.cost * interval
    allow_at = new_tat - span
    if allow_at > now:
        return False, max(0, (span - (tat - now)) // interval), tat - now, allow_at - now, None
    reset = new_tat - now
    return True, (span - reset) // interval, reset, 0, new_tat if reset > 0 else None


__all__ = ("Check", "Outcome", "State", "evaluate", "evaluate_one")
