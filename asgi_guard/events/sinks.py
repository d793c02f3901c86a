"""Where security events go: stdlib logging as JSON lines, and OpenTelemetry (API only)."""

from __future__ import annotations

import logging
from time import monotonic
from typing import TYPE_CHECKING, Final, Protocol

import msgspec
from opentelemetry import metrics, trace

from asgi_guard._memo import Memo
from asgi_guard.events.records import RecordMaker, standard_records

if TYPE_CHECKING:
    from asgi_guard.events.event import SecurityEvent

SECURITY_LOGGER: Final = "asgi_guard.security"
PROVIDER_RECHECK: Final = 1.0
"""Seconds between two looks for a newly installed OpenTelemetry meter provider (see ``wants``)."""
ATTRIBUTE_SETS: Final = 256
"""Counter attribute sets remembered by :class:`OpenTelemetrySink` (cleared when full)."""

# A library configures no output of its own (logging HOWTO, "Configuring Logging for a Library"): the
# application decides where security events go. Without this, Python's last-resort handler would
# print every denial to stderr of any app that has not configured logging.
logging.getLogger(SECURITY_LOGGER).addHandler(logging.NullHandler())


class EventSink(Protocol):
    """Anything that accepts security events. Must not raise and must not block.

    A sink may also define ``wants(result) -> bool``: whether it would record an event with that
    result now. When every sink says no, the event is never built (see ``Emitter.wants``); a sink
    without ``wants`` takes every event.
    """

    def __call__(self, event: SecurityEvent) -> None: ...


_WARNING_RESULTS: Final = frozenset({"deny", "error", "alert"})


def level_of(result: str) -> int:
    """The logging level of an event result: denials, errors and alerts at WARNING, the rest at INFO."""
    return logging.WARNING if result in _WARNING_RESULTS else logging.INFO


class LoggingSink:
    """One JSON line per event on the ``asgi_guard.security`` logger.

    Denials, errors and alerts (suspicious activity) log at WARNING, the rest at INFO; the JSON is
    only encoded when the logger would emit. JSON escaping turns CR/LF and other control characters
    into ``\\n`` etc., so client values cannot forge log lines. The record's message is the JSON
    line itself (no ``args``). It is built by a :class:`~asgi_guard.events.records.RecordMaker`
    and passed to ``Logger.handle`` (filters, handlers and propagation as usual), unless the
    application installed its own record factory or logger class: then through ``logger.log``.
    """

    __slots__ = ("_encode", "_logger", "_records")

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger if logger is not None else logging.getLogger(SECURITY_LOGGER)
        self._encode = msgspec.json.Encoder().encode
        self._records = RecordMaker(self._logger)

    def wants(self, result: str) -> bool:
        """Whether the logger would emit an event with this result (its level, per ``isEnabledFor``)."""
        return self._logger.isEnabledFor(level_of(result))

    def __call__(self, event: SecurityEvent) -> None:
        level = level_of(event.result)
        logger = self._logger
        if not logger.isEnabledFor(level):
            return
        message = self._encode(event).decode()
        if standard_records(logger):
            logger.handle(self._records.make(level, message))
        else:
            logger.log(level, message)


class OpenTelemetrySink:
    """Span events on the current span plus a counter, through ``opentelemetry-api`` only.

    Without an SDK configured both are no-ops, and :meth:`wants` says so: no event is built for
    this sink until a meter provider is installed (noticed within :data:`PROVIDER_RECHECK` seconds)
    or the current span records.
    """

    __slots__ = ("_attributes", "_checked", "_counter", "_metered")

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        # A meter given explicitly counts; the global one only once an SDK's provider is installed.
        self._metered = meter is not None
        self._checked = -PROVIDER_RECHECK
        meter = meter if meter is not None else metrics.get_meter("asgi_guard")
        self._counter = meter.create_counter(
            "asgi_guard.security_events", unit="{event}", description="Security decisions by type and result"
        )
        # The counter's attributes per (type, result), built once: a handful of pairs, bounded anyway.
        self._attributes: Memo[tuple[str, str], dict[str, str]] = Memo(ATTRIBUTE_SETS)

    def wants(self, result: str) -> bool:
        """Whether a counter or a span would take the event: a meter provider is installed (the API
        alone counts nothing) or the current span is recording."""
        if not self._metered:
            # Asking the API for its provider reads the environment (microseconds): ask again at most
            # once per PROVIDER_RECHECK seconds. An installed provider stays installed.
            now = monotonic()
            if now - self._checked >= PROVIDER_RECHECK:
                self._checked = now
                self._metered = _installed(metrics.get_meter_provider())
            if not self._metered:
                return trace.get_current_span().is_recording()
        return True

    def __call__(self, event: SecurityEvent) -> None:
        pair = (event.type, event.result)
        attributes = self._attributes.get(pair)
        if attributes is None:
            attributes = self._attributes.put(pair, {"type": event.type, "result": event.result})
        self._counter.add(1, attributes)
        span = trace.get_current_span()
        if span.is_recording():
            attributes = {
                f"asgi_guard.{name}": value
                for name in (
                    "result",
                    "request_id",
                    "client_request_id",
                    "principal_id",
                    "key_fingerprint",
                    "action",
                    "client_ip",
                    "community_id",
                    "reason",
                )
                if (value := getattr(event, name))
            }
            for key, value in event.extra.items():
                attributes[f"asgi_guard.{key}"] = value
            span.add_event(f"asgi_guard.{event.type}", attributes)


def _installed(provider: metrics.MeterProvider) -> bool:
    """Whether ``provider`` is a real one: not the API's no-op, nor the proxy it hands out until an
    SDK installs a provider (a provider, once installed, stays: the answer is then kept)."""
    return not isinstance(provider, metrics.NoOpMeterProvider) and type(provider).__name__ != "_ProxyMeterProvider"


__all__ = (
    "ATTRIBUTE_SETS",
    "PROVIDER_RECHECK",
    "SECURITY_LOGGER",
    "EventSink",
    "LoggingSink",
    "OpenTelemetrySink",
    "level_of",
)
