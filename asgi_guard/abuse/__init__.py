"""Abuse detection: failure-charged limits and suspicious-activity events.

Failures (bad tokens, bad API keys, bad webhook signatures, RBAC/tenancy/CSRF refusals) drain GCRA
buckets keyed by the failing client; an empty bucket is refused 429 before any credential is checked.
Patterns (repeated failures, credential stuffing, a leaked credential, tenant probing, signature
bursts) raise a ``suspicious_activity`` event and call an optional hook. State lives in the rate-limit
backend, so Redis (standalone or Cluster) gives every instance one picture.
"""

from __future__ import annotations

from asgi_guard.abuse.config import (
    DEFAULT_FAILURES,
    AbuseConfig,
    FailureLimit,
    Patterns,
    Threshold,
    failure_limits,
)
from asgi_guard.abuse.middleware import AbuseMiddleware
from asgi_guard.abuse.patterns import SuspiciousActivity

__all__ = (
    "DEFAULT_FAILURES",
    "AbuseConfig",
    "AbuseMiddleware",
    "FailureLimit",
    "Patterns",
    "SuspiciousActivity",
    "Threshold",
    "failure_limits",
)
