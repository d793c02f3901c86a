"""Rates: ``"100/minute"`` parsed once, at construction, into integer microseconds for GCRA."""

from __future__ import annotations

import re
from typing import Final

import msgspec

from asgi_guard.errors import ConfigurationError

_UNITS: Final[dict[str, int]] = {
    "second": 1,
    "seconds": 1,
    "s": 1,
    "minute": 60,
    "minutes": 60,
    "min": 60,
    "m": 60,
    "hour": 3600,
    "hours": 3600,
    "h": 3600,
    "day": 86400,
    "days": 86400,
    "d": 86400,
}
_RATE: Final = re.compile(r"\s*([0-9]+)\s*(?:/|per)\s*([0-9]+)?\s*([a-z]+)\s*")
MICROS: Final = 1_000_000
MAX_COUNT: Final = 1_000_000_000
MAX_PERIOD: Final = 366 * 86400


_COUNT_RANGE: Final = f"a count of 1 to {MAX_COUNT:,} requests".replace(",", "_")
_PERIOD_RANGE: Final = "a period of 1 second to 366 days"


class Rate(msgspec.Struct, frozen=True):
    """``count`` requests per ``period`` seconds.

    GCRA spaces requests ``interval_us`` apart (the period divided by the count, rounded up to a
    whole microsecond so a rate is never exceeded through rounding).
    """

    count: int
    period: int

    def __post_init__(self) -> None:
        if not 0 < self.count <= MAX_COUNT:
            raise ConfigurationError.expected(_COUNT_RANGE, self.count, "Rate.count")
        if not 0 < self.period <= MAX_PERIOD:
            raise ConfigurationError.expected(_PERIOD_RANGE, self.period, "Rate.period")

    @property
    def interval_us(self) -> int:
        return -(-self.period * MICROS // self.count)

    @classmethod
    def parse(cls, text: str | Rate, where: str = "rate") -> Rate:
        """Parse ``"100/minute"``, ``"10 per 5 seconds"``, ``"5/30s"`` (or pass a :class:`Rate` through)."""
        if isinstance(text, Rate):
            return text
        if not isinstance(text, str):
            raise ConfigurationError.expected("a rate such as `100/minute`", text, where)
        found = _RATE.fullmatch(text.lower())
        unit = _UNITS.get(found.group(3)) if found else None
        if found is None or unit is None:
            raise ConfigurationError.expected("a rate such as `100/minute`", text, where)
        # Out-of-range numbers are told the allowed range (not "such as"); 20 digits is beyond every limit.
        count_text, multiple_text = found.group(1), found.group(2) or "1"
        count = int(count_text) if len(count_text) <= 20 else MAX_COUNT + 1
        if not 0 < count <= MAX_COUNT:
            raise ConfigurationError.expected(_COUNT_RANGE, text, where)
        period = int(multiple_text) * unit if len(multiple_text) <= 20 else MAX_PERIOD + 1
        if not 0 < period <= MAX_PERIOD:
            raise ConfigurationError.expected(_PERIOD_RANGE, text, where)
        return cls(count, period)

    def __str__(self) -> str:
        return f"{self.count}/{self.period}s"


__all__ = ("MICROS", "Rate")
