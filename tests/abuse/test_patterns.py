"""Suspicious-activity patterns (memory, Redis, Cluster): each trips at its threshold, not one earlier."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from asgi_guard import guard
from asgi_guard.abuse import AbuseConfig, Patterns, SuspiciousActivity, Threshold
from asgi_guard.context import get_context
from asgi_guard.events.event import SecurityEvent
from asgi_guard.tenancy import TenancyConfig
from asgi_guard.testing import call, make_scope
from asgi_guard.webhooks import GenericHMAC, WebhookConfig
from tests.abuse.conftest import App, Backend, auth_config, token

pytestmark = pytest.mark.anyio

OFF: dict[str, Any] = {
    "repeated_failures": None,
    "credential_stuffing": None,
    "leaked_credential": None,
    "tenant_probing": None,
    "signature_burst": None,
}


class Hook:
    """Records what it receives (the application's hook)."""

    def __init__(self) -> None:
        self.seen: list[SuspiciousActivity] = []

    async def __call__(self, activity: SuspiciousActivity) -> None:
        self.seen.append(activity)


def app_with(backend: Backend, hook: Hook, **pattern: Threshold) -> Any:
    abuse = AbuseConfig(
        backend=backend.backend, clock=backend.clock, patterns=Patterns(**{**OFF, **pattern}), on_suspicious=hook
    )
    webhooks = WebhookConfig(routes={"/hook": GenericHMAC(secrets=["whsec"])})
    tenancy = TenancyConfig(routes=("/c/{community_id}",))
    return guard(App(), abuse, webhooks, auth_config(backend.clock), tenancy)


async def request(app: Any, ip: str, credential: str | None, path: str = "/x", **headers: str) -> list[SecurityEvent]:
    if credential is not None:
        headers["authorization"] = f"Bearer {credential}"
    scope = make_scope("POST" if path == "/hook" else "GET", path, headers=headers, client=(ip, 1))
    await call(app, scope, b"{}")
    return [event for event in get_context(scope).events if event.type == "suspicious_activity"]


async def test_repeated_failures_from_one_client(backend: Backend) -> None:
    """The fourth failure from one address trips (threshold 4), the third does not, the fifth is quiet."""
    hook = Hook()
    app = app_with(backend, hook, repeated_failures=Threshold(count=4, window=60))
    for attempt in range(3):
        assert await request(app, "10.0.0.1", "bad") == []
        assert await request(app, f"10.0.0.{attempt + 2}", "bad") == []  # other addresses count apart
    tripped = await request(app, "10.0.0.1", "bad")
    assert [(e.reason, e.result, e.extra["count"], e.extra["window"]) for e in tripped] == [
        ("repeated_failures", "alert", "4", "60")
    ]
    assert await request(app, "10.0.0.1", "bad") == []
    assert [(a.pattern, a.subject, a.count, a.window) for a in hook.seen] == [("repeated_failures", "10.0.0.1", 4, 60)]


async def test_credential_stuffing_counts_distinct_credentials(backend: Backend) -> None:
    """Retrying one credential never trips; the third distinct one from one address does."""
    hook = Hook()
    app = app_with(backend, hook, credential_stuffing=Threshold(count=3, window=60))
    for _ in range(5):
        assert await request(app, "10.0.0.1", "guess-a") == []
    assert await request(app, "10.0.0.1", "guess-b") == []
    tripped = await request(app, "10.0.0.1", "guess-c")
    assert [e.reason for e in tripped] == ["credential_stuffing"]
    assert await request(app, "10.0.0.1", "guess-d") == []
    assert hook.seen[0].credential == hashlib.sha256(b"guess-c").hexdigest()[:32]
    assert "guess" not in repr(tripped)  # fingerprints only


async def test_leaked_credential_used_from_many_addresses(backend: Backend) -> None:
    """A valid token from its third address trips; the hook gets the principal (to revoke its family)."""
    hook = Hook()
    app = app_with(backend, hook, leaked_credential=Threshold(count=3, window=60))
    shared = token("leaky", fam="family-7")
    for _ in range(3):
        for ip in ("10.0.0.1", "10.0.0.2"):
            assert await request(app, ip, shared) == []
    assert await request(app, "10.0.0.1", token("someone-else")) == []
    tripped = await request(app, "10.0.0.3", shared)
    assert [e.reason for e in tripped] == ["leaked_credential"]
    assert await request(app, "10.0.0.4", shared) == []
    (activity,) = hook.seen
    assert activity.principal.id == "leaky"
    assert activity.principal.claims["fam"] == "family-7"


async def test_tenant_probing_counts_community_refusals(backend: Backend) -> None:
    """The third community_forbidden for one principal trips, from whatever address."""
    hook = Hook()
    app = app_with(backend, hook, tenant_probing=Threshold(count=3, window=60))
    prober = token("prober", communities=["1"])
    assert await request(app, "10.0.0.1", prober, "/c/1") == []
    assert await request(app, "10.0.0.1", prober, "/c/2") == []
    assert await request(app, "10.0.0.2", prober, "/c/3") == []
    assert await request(app, "10.0.0.1", token("other", communities=["1"]), "/c/9") == []
    tripped = await request(app, "10.0.0.3", prober, "/c/4")
    assert [(e.reason, e.extra["subject"]) for e in tripped] == [("tenant_probing", "prober")]


async def test_signature_burst_for_one_provider(backend: Backend) -> None:
    """The third bad signature for a provider trips, whichever addresses sent them; valid ones do not count."""
    hook = Hook()
    app = app_with(backend, hook, signature_burst=Threshold(count=3, window=60))
    good = hmac.new(b"whsec", b"{}", hashlib.sha256).hexdigest()
    assert await request(app, "10.0.0.1", None, "/hook", **{"x-webhook-signature": good}) == []
    assert await request(app, "10.0.0.1", None, "/hook", **{"x-webhook-signature": "0" * 64}) == []
    assert await request(app, "10.0.0.2", None, "/hook") == []
    tripped = await request(app, "10.0.0.3", None, "/hook", **{"x-webhook-signature": "1" * 64})
    assert [(e.reason, e.extra["subject"]) for e in tripped] == [("signature_burst", "generic")]


async def test_a_failing_hook_is_logged_not_raised(backend: Backend) -> None:
    """The response is already sent: a hook that raises leaves an error event, nothing else."""

    async def broken(activity: SuspiciousActivity) -> None:
        raise RuntimeError("notifier down")

    abuse = AbuseConfig(
        backend=backend.backend,
        clock=backend.clock,
        patterns=Patterns(**{**OFF, "repeated_failures": Threshold(count=1, window=60)}),
        on_suspicious=broken,
    )
    app = guard(App(), abuse, auth_config(backend.clock))
    scope = make_scope(headers={"authorization": "Bearer bad"}, client=("10.0.0.1", 1))
    assert (await call(app, scope)).status == 401
    kinds = [(event.type, event.result) for event in get_context(scope).events]
    assert kinds[-2:] == [("suspicious_activity", "alert"), ("suspicious_activity_hook", "error")]


async def test_tripped_patterns_are_counted_in_opentelemetry(backend: Backend) -> None:
    """Each trip adds one to `asgi_guard.suspicious_activity` by pattern; failures below the threshold add nothing."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    patterns = Patterns(**{**OFF, "repeated_failures": Threshold(count=2, window=60)})
    abuse = AbuseConfig(backend=backend.backend, clock=backend.clock, patterns=patterns, meter=provider.get_meter("t"))
    app = guard(App(), abuse, auth_config(backend.clock))
    for ip in ("10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2", "10.0.0.3"):
        await request(app, ip, "bad")
    data = reader.get_metrics_data()
    assert data is not None
    [metric] = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert metric.name == "asgi_guard.suspicious_activity"
    counts = {p.attributes["pattern"]: p.value for p in metric.data.data_points}  # type: ignore[index,union-attr]
    assert counts == {"repeated_failures": 2}
    provider.shutdown()
