"""Where to send the browser after login: only allow-listed relative paths (no open redirect)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def safe_next(value: str | None, allowed: tuple[str, ...], default: str) -> str | None:
    """``value`` if it is a relative path under one of ``allowed`` prefixes, else ``None``.

    Refused: absolute URLs, scheme-relative ``//host``, ``/\\host`` (browsers read a backslash as a
    slash), any backslash or control character, dot segments, and paths outside the allow-list. ``None`` or "" is
    the ``default``.
    """
    if not value:
        return default
    if len(value) > 2048 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or not value.isprintable() or any(ch.isspace() for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    path = parts.path
    if {".", ".."} & set(unquote(path).split("/")):
        return None  # browsers resolve dot segments: /app/../admin leaves the allow-list
    if any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in allowed):
        return value
    return None


__all__ = ("safe_next",)
