"""Options every layer shares, declared once: the error body format and the clock.

Each layer's config carries the fields it uses (``error_format: ErrorFormat = "json"``,
``clock: Clock | None = None``) and checks them with the functions here, so the accepted values and
the error messages are the same everywhere.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from asgi_guard.clock import Clock
from asgi_guard.errors import ConfigurationError

ErrorFormat = Literal["json", "problem"]
"""``json``: ``{"error", "detail"}``; ``problem``: RFC 9457 with ``code`` as an extension member."""

ERROR_FORMATS: Final = ("json", "problem")


def check_error_format(value: object, where: str) -> None:
    """``json`` (``{"error", "detail"}``) or ``problem`` (RFC 9457), else :class:`ConfigurationError`."""
    if value not in ERROR_FORMATS:
        raise ConfigurationError.expected("`json` or `problem`", value, where)


def check_clock(value: Any, where: str) -> None:
    """``None`` (the system clock) or a :class:`~asgi_guard.clock.Clock`: callable ``time`` and
    ``monotonic`` (requests call both; a clock missing one would fail there, as a 500)."""
    if value is not None and not all(callable(getattr(value, name, None)) for name in ("time", "monotonic")):
        raise ConfigurationError.expected("a Clock (time/monotonic)", type(value).__name__, where)


__all__ = ("ERROR_FORMATS", "Clock", "ErrorFormat", "check_clock", "check_error_format")
