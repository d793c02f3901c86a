"""The demo community API, shipped in the package so ``python -m asgi_guard demo`` works from a wheel."""

from __future__ import annotations

from asgi_guard.demo.app import COMMUNITY_ID, Demo, build_demo

__all__ = ("COMMUNITY_ID", "Demo", "build_demo")
