"""The ASGI type aliases are importable at runtime by user code."""

from __future__ import annotations

from collections.abc import MutableMapping

import asgi_guard.types as asgi_types


def test_aliases_are_public() -> None:
    """types exports exactly the ASGI vocabulary, usable at runtime."""
    assert set(asgi_types.__all__) == {"ASGIApp", "Headers", "Message", "Receive", "Scope", "Send"}
    scope: asgi_types.Scope = {"type": "http"}
    assert asgi_types.Scope.__origin__ is MutableMapping
    assert scope["type"] == "http"
