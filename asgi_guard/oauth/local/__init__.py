"""Bundled local identity providers (authlib's server components) standing in for the real ones offline."""

from __future__ import annotations

from asgi_guard.oauth.local.flavors import DEFAULT_USERS, FLAVORS, Flavor
from asgi_guard.oauth.local.models import LocalUser
from asgi_guard.oauth.local.server import LocalProvider

__all__ = ("DEFAULT_USERS", "FLAVORS", "Flavor", "LocalProvider", "LocalUser")
