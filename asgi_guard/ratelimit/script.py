"""``bucket.lua``, loaded from the package with :mod:`importlib.resources`, and its calls.

Commands are written as RESP bytes directly (the parameters of a limit are encoded once and
memoised), which is most of what makes a coalesced pipeline cheap per check on the client. A call
answered ``NOSCRIPT`` (restarted node, failover) is replayed as ``EVAL`` of the script itself: one
round trip to the node that owns the keys, which caches the script there for the next ``EVALSHA``.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from asgi_guard.ratelimit.gcra import Check, State

if TYPE_CHECKING:
    from collections.abc import Sequence

SCRIPT: Final = files("asgi_guard.ratelimit").joinpath("bucket.lua").read_text(encoding="utf-8")
SCRIPT_SHA: Final = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


_EVALSHA: Final = _bulk(b"EVALSHA") + _bulk(SCRIPT_SHA.encode())
_EVAL: Final = _bulk(b"EVAL") + _bulk(SCRIPT.encode())
SCRIPT_LOAD: Final = b"*3\r\n" + _bulk(b"SCRIPT") + _bulk(b"LOAD") + _bulk(SCRIPT.encode())
_MODES: Final = {mode: _bulk(mode.encode()) for mode in ("c", "r")}
_params: dict[tuple[int, int, int, bool], bytes] = {}  # a handful of distinct limits in practice


def _encoded_params(check: Check) -> bytes:
    """The four RESP bulk strings of a check's parameters (memoised: limits are configuration)."""
    spec = (check.interval_us, check.burst, check.cost, check.enforce)
    found = _params.get(spec)
    if found is None:
        found = b"".join(_bulk(b"%d" % value) for value in (*spec[:3], 1 if check.enforce else 0))
        if len(_params) < 4096:
            _params[spec] = found
    return found


class ScriptCall(NamedTuple):
    """One script invocation: checks of one hash slot (``indices`` into the request's checks)."""

    checks: tuple[Check, ...]
    indices: tuple[int, ...]

    def command(self, mode: str) -> tuple[Any, ...]:
        args: list[Any] = [mode]
        for check in self.checks:
            args += (check.interval_us, check.burst, check.cost, 1 if check.enforce else 0)
        return ("EVALSHA", SCRIPT_SHA, len(self.checks), *(check.key for check in self.checks), *args)

    def packed(self, mode: str, *, inline: bool = False) -> bytes:
        """The same command as RESP bytes, built without redis-py's per-argument encoding
        (``inline``: ``EVAL`` with the script's source, for a node that lost its script cache)."""
        size = len(self.checks)
        parts = [b"*%d\r\n" % (4 + 5 * size), _EVAL if inline else _EVALSHA, _bulk(b"%d" % size)]
        parts += [_bulk(check.key.encode()) for check in self.checks]
        parts.append(_MODES[mode])
        parts += [_encoded_params(check) for check in self.checks]
        return b"".join(parts)


def parse_reply(reply: Sequence[int], size: int) -> tuple[bool, int, list[State]]:
    """``{allowed, now_us, (ok, remaining, reset_us, retry_us) * size}`` from the script."""
    states = [
        State(reply[k] == 1, int(reply[k + 1]), int(reply[k + 2]), int(reply[k + 3])) for k in range(2, 2 + 4 * size, 4)
    ]
    return reply[0] == 1, int(reply[1]), states


__all__ = ("SCRIPT", "SCRIPT_LOAD", "SCRIPT_SHA", "ScriptCall", "parse_reply")
