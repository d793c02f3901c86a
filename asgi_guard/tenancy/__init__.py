"""Community (tenant) scoping: one checked community per request, in the context."""

from __future__ import annotations

from asgi_guard.tenancy import resolvers
from asgi_guard.tenancy.config import TenancyConfig
from asgi_guard.tenancy.middleware import TenancyMiddleware
from asgi_guard.tenancy.resolvers import CachedResolver, MembershipResolver, StaticMembership, claims_membership

__all__ = (
    "CachedResolver",
    "MembershipResolver",
    "StaticMembership",
    "TenancyConfig",
    "TenancyMiddleware",
    "claims_membership",
    "resolvers",
)
