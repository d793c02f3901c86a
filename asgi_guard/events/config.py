"""Configuration of the events layer: sinks, request ids, outcome logging."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.options import check_clock

if TYPE_CHECKING:
    from asgi_guard.clock import Clock
    from asgi_guard.events.sinks import EventSink


class EventsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where security events go and how requests are correlated.

    Attributes:
        sinks: callables receiving each :class:`SecurityEvent`; ``None`` means the default pair
            (stdlib logger ``asgi_guard.security`` as JSON lines, and OpenTelemetry).
        request_id_header: the header read and echoed (lower-case).
        trust_request_id: echo a client-supplied request id that matches ``request_id_pattern`` and
            log it as ``client_request_id`` (the server's own id is always generated, so a client
            can never place its value in ``request_id``); ``False`` ignores the client's value.
        request_id_pattern: what an acceptable client request id looks like (blocks log injection).
        log_outcome: emit one ``request`` event per request with the final status.
        clock: time source for event timestamps (``None``: the system clock).
    """

    sinks: tuple[EventSink, ...] | None = None
    request_id_header: str = "x-request-id"
    trust_request_id: bool = True
    request_id_pattern: str = r"^[A-Za-z0-9._:-]{1,128}$"
    log_outcome: bool = False
    clock: Clock | None = None

    def __post_init__(self) -> None:
        if not self.request_id_header or self.request_id_header != self.request_id_header.lower():
            raise ConfigurationError.expected(
                "a non-empty lower-case header name", self.request_id_header, "EventsConfig.request_id_header"
            )
        try:
            re.compile(self.request_id_pattern)
        except re.error as exc:
            raise ConfigurationError.expected(
                "a valid regular expression", self.request_id_pattern, "EventsConfig.request_id_pattern"
            ) from exc
        check_clock(self.clock, "EventsConfig.clock")
        if self.sinks is not None:
            for index, sink in enumerate(self.sinks):
                if not callable(sink):
                    raise ConfigurationError.expected("a callable sink", sink, f"EventsConfig.sinks[{index}]")


__all__ = ("EventsConfig",)
