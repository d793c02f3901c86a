"""Reusable constrained types: declare a field's rules once, use it in every schema.

Patterns are matched with ``re.search`` by msgspec, so each one is anchored with ``\\A`` and ``\\Z``
(``$`` would also accept a trailing newline) and uses ``[0-9]`` (``\\d`` also matches non-ASCII
digits, e.g. Arabic-Indic ones).
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from asgi_guard.validation.sanitize import Sanitize

UserId = Annotated[
    str,
    Meta(pattern=r"\A[a-z]+:[0-9]+\Z", max_length=64, description="A platform-qualified user id, e.g. `twitch:1234`."),
]
"""``platform:number``, e.g. ``twitch:1234`` (the seed's ``^[a-z]+:\\d+$``, ASCII digits only)."""

CommandName = Annotated[
    str,
    Meta(pattern=r"\A[a-zA-Z0-9_-]+\Z", min_length=1, max_length=255, description="A command name."),
]
"""Letters, digits, ``_`` and ``-``; 1 to 255 characters."""

ChatMessage = Annotated[str, Meta(max_length=2000, description="A chat message; HTML is stripped."), Sanitize()]
"""Up to 2000 characters, HTML stripped after decoding."""

ModerationReason = Annotated[str, Meta(max_length=500, description="Why a moderator acted."), Sanitize()]
"""Up to 500 characters, HTML stripped after decoding."""

DurationSeconds = Annotated[int, Meta(ge=1, le=1_209_600, description="A duration in seconds, up to 14 days.")]
"""A positive duration of at most 14 days, in seconds."""

PageSize = Annotated[int, Meta(ge=1, le=100)]
"""A page size for listings: 1 to 100."""


__all__ = ("ChatMessage", "CommandName", "DurationSeconds", "ModerationReason", "PageSize", "UserId")
