"""Emit a security event from anywhere in the stack, filled from the request's context."""

from __future__ import annotations

import hashlib
import re
from time import time as _time
from typing import TYPE_CHECKING, Final

from asgi_guard._forwarded import safe_peer
from asgi_guard._headers import get_header
from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.context import GuardContext
from asgi_guard.events.event import SecurityEvent
from asgi_guard.events.sinks import LoggingSink, OpenTelemetrySink

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from asgi_guard.types import Scope

MAX_FIELD: Final = 256
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean(value: str | bytes, limit: int = MAX_FIELD) -> str:
    """A client-supplied value made safe to log: decoded, control characters replaced, capped."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if len(value) > limit:
        value = value[:limit] + "…"
    if value.isprintable():  # no control or separator character (all are non-printable): nothing to replace
        return value
    return _CONTROL.sub("\ufffd", value)


def fingerprint(secret: str | bytes) -> str:
    """A short, non-reversible fingerprint of a secret, safe for logs (12 hex of SHA-256)."""
    data = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(data).hexdigest()[:12]


class Emitter:
    """Fans an event out to sinks. Sinks are called in order; a failing sink never fails a request."""

    __slots__ = ("_choosy", "clock", "sinks")

    def __init__(self, sinks: Sequence[Callable[[SecurityEvent], None]], clock: Clock = SYSTEM_CLOCK) -> None:
        self.sinks = tuple(sinks)
        self.clock = clock
        # A sink without `wants` takes everything; one with it is asked per event.
        self._choosy = tuple((sink, getattr(sink, "wants", None)) for sink in self.sinks)

    def recipients(self, result: str) -> tuple[Callable[[SecurityEvent], None], ...]:
        """The sinks that would record an event with this result now (a failing ``wants`` counts as yes)."""
        chosen: list[Callable[[SecurityEvent], None]] = []
        for sink, wants in self._choosy:
            try:
                if wants is None or wants(result):
                    chosen.append(sink)
            except Exception:
                chosen.append(sink)
        return tuple(chosen) if len(chosen) != len(self.sinks) else self.sinks

    def wants(self, result: str) -> bool:
        """Whether any sink would record an event with this result now."""
        return bool(self.recipients(result))

    def __call__(self, event: SecurityEvent) -> None:
        _deliver(self.sinks, event)


def _deliver(sinks: Sequence[Callable[[SecurityEvent], None]], event: SecurityEvent) -> None:
    for sink in sinks:
        try:
            sink(event)
        except Exception:  # noqa: S112 - logging must never turn a decision into a 500
            continue


DEFAULT_EMITTER: Final = Emitter((LoggingSink(), OpenTelemetrySink()))


def emit(scope: Scope, type: str, result: str, reason: str = "", **extra: str) -> SecurityEvent | None:
    """Build a :class:`SecurityEvent` from the request's context, record it there, and send it.

    Nothing is built when no sink would record it (the logger's level drops it and no
    OpenTelemetry provider or recording span takes it): then this returns ``None``.
    ``extra`` values are cleaned; never pass secrets (pass :func:`fingerprint` of them).
    """
    ctx = GuardContext.from_scope(scope)
    emitter: Emitter = ctx.emitter or DEFAULT_EMITTER
    sinks = emitter.recipients(result)
    if not sinks:  # only the sinks that want it get it: an unheard OpenTelemetry sink costs nothing
        return None
    principal = ctx.principal
    raw_agent = get_header(scope, b"user-agent")
    clock = emitter.clock
    principal_id = principal.id if principal is not None else ""
    action = f"{scope.get('method', 'WS')} {scope.get('path', '')}"
    client_ip = ctx.client_ip or _peer(scope)
    agent = raw_agent.decode("utf-8", "replace") if raw_agent else ""
    community_id = ctx.community_id or ""
    # Nearly always every field is short and printable: one test of them all instead of one clean() each.
    joined = principal_id + action + client_ip + agent + community_id + reason
    if len(joined) > MAX_FIELD or not joined.isprintable():
        principal_id, action, client_ip = clean(principal_id), clean(action), clean(client_ip)
        agent, community_id, reason = clean(agent), clean(community_id), clean(reason)
    event = SecurityEvent(
        type=type,
        result=result,
        time=_time() if clock is SYSTEM_CLOCK else clock.time(),
        request_id=ctx.request_id,
        client_request_id=ctx.client_request_id,
        principal_id=principal_id,
        key_fingerprint=principal.key_fingerprint if principal is not None else "",
        action=action,
        client_ip=client_ip,
        user_agent=agent,
        community_id=community_id,
        reason=reason,
        extra={key: clean(value) for key, value in extra.items()} if extra else {},
    )
    ctx.events.append(event)
    _deliver(sinks, event)
    return event


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    if client:
        return safe_peer(str(client[0]))  # a peer that is not an address is never logged as it is
    return ""


__all__ = ("DEFAULT_EMITTER", "Emitter", "clean", "emit", "fingerprint")
