"""Turn msgspec's errors into denials whose detail is useful yet bounded.

msgspec's messages are one line, "Expected `str` of length <= 255 - at `$.command`", and some quote
the client's input (an unknown field name, an invalid enum value). The text and the path are each
capped and stripped of control characters, so a hostile body cannot make the answer or the log
line huge, and the path keeps its place at the end.
"""

from __future__ import annotations

from typing import Final

from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.events.emit import clean

_AT: Final = " - at `"


def split_path(message: str) -> tuple[str, str]:
    """``(text, path)`` of a msgspec message; the path is ``$`` when msgspec gave none (the root)."""
    text, found, path = message.rpartition(_AT)
    if not found:
        return message, "$"
    return text, path.removesuffix("`")


def validation_error(message: str, location: str, limit: int) -> GuardError:
    """A 400 ``validation_error`` naming the field path under ``location`` (``$``, ``query``, ``path``)."""
    text, path = split_path(message)
    if location != "$":
        path = location + path[1:]
    path = clean(path, limit)
    return GuardError(
        ErrorCode.VALIDATION_ERROR,
        f"validation_error at {path}",
        detail=f"{clean(text, limit)} - at `{path}`",
    )


def malformed(reason: str, detail: str, limit: int) -> GuardError:
    """A 400 ``malformed_request`` (not JSON, not UTF-8, too deep, bad query string)."""
    return GuardError(ErrorCode.MALFORMED_REQUEST, reason, detail=clean(detail, limit))


__all__ = ("malformed", "split_path", "validation_error")
