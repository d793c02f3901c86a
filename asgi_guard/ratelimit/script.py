"""``bucket.lua``, loaded from the package with :mod:`importlib.resources`, and its calls.

A call is sent through redis-py's public commands (``evalsha``, ``eval``, pipelines); its argument
list is built once per call, with the parameters of a limit converted once and memoised. A call
answered ``NOSCRIPT`` (restarted node, failover) is replayed as ``EVAL`` of the script itself: one
round trip to the node that owns the keys, which caches the script there for the next ``EVALSHA``.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from typing import TYPE_CHECKING, Final, NamedTuple

from asgi_guard._memo import Memo
from asgi_guard.ratelimit.gcra import Check, State

if TYPE_CHECKING:
    from collections.abc import Sequence

SCRIPT: Final = files("asgi_guard.ratelimit").joinpath("bucket.lua").read_text(encoding="utf-8")
SCRIPT_SHA: Final = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()

_MODES: Final = {"c": b"c", "r": b"r"}
_params: Final[Memo[tuple[int, int, int, bool], tuple[bytes, ...]]] = Memo(4096)  # a handful in practice


def _encoded_params(check: Check) -> tuple[bytes, ...]:
    """A check's four parameters as the bytes Redis receives (memoised: limits are configuration)."""
    spec = (check.interval_us, check.burst, check.cost, check.enforce)
    found = _params.get(spec)
    if found is None:
        found = _params.put(spec, (b"%d" % spec[0], b"%d" % spec[1], b"%d" % spec[2], b"1" if spec[3] else b"0"))
    return found


class ScriptCall(NamedTuple):
    """One script invocation: checks of one hash slot (``indices`` into the request's checks)."""

    checks: tuple[Check, ...]
    indices: tuple[int, ...]

    def arguments(self, mode: str) -> list[bytes]:
        """``numkeys, *keys, mode, *params``: what follows the script (or its SHA) in ``EVAL(SHA)``,
        as bytes (redis-py passes bytes through as they are, so nothing is encoded twice)."""
        args = [b"%d" % len(self.checks)]
        args += [check.key.encode() for check in self.checks]
        args.append(_MODES[mode])
        for check in self.checks:
            args += _encoded_params(check)
        return args


def parse_reply(reply: Sequence[int], size: int) -> tuple[bool, int, list[State]]:
    """``{allowed, now_us, (ok, remaining, reset_us, retry_us) * size}`` from the script."""
    states = [
        State(reply[k] == 1, int(reply[k + 1]), int(reply[k + 2]), int(reply[k + 3])) for k in range(2, 2 + 4 * size, 4)
    ]
    return reply[0] == 1, int(reply[1]), states


__all__ = ("SCRIPT", "SCRIPT_SHA", "ScriptCall", "parse_reply")
