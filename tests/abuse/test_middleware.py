"""Failure-charged limits end to end (memory, Redis, Cluster): exact thresholds, lock-out, shadow."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_guard import guard
from asgi_guard._responses import send_denial
from asgi_guard.abuse import AbuseConfig, AbuseMiddleware, FailureLimit, Patterns, Threshold, failure_limits
from asgi_guard.abuse.middleware import MEMO_MAX_BYTES, TRUSTED_LIMIT
from asgi_guard.context import get_context
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.ratelimit.memory import MemoryRateLimitBackend
from asgi_guard.ratelimit.redis import RedisRateLimitBackend
from asgi_guard.tenancy import TenancyConfig
from asgi_guard.testing import FakeClock, MessageRecorder, call, make_scope
from tests.abuse.conftest import NOW, App, Backend, auth_config, token

pytestmark = pytest.mark.anyio

QUIET = Patterns(
    repeated_failures=None, credential_stuffing=None, leaked_credential=None, tenant_probing=None, signature_burst=None
)


def stack(backend: Any, clock: FakeClock, app: App | None = None, **options: Any) -> Any:
    options.setdefault("limits", (FailureLimit(name="ip", rate="5/10minutes", key="ip"),))
    options.setdefault("patterns", QUIET)
    # A Redis reply on a starved 2-core CI machine can take longer than the 50 ms production budget:
    # behaviour tests get room (a refusal from the budget is not what they test); fault tests set their own.
    options.setdefault("budget", 2.0)
    abuse = AbuseConfig(backend=backend, clock=clock, **options)
    return guard(app or App(), abuse, auth_config(clock))


async def hit(app: Any, ip: str = "10.0.0.1", credential: str | None = "bad", path: str = "/x") -> MessageRecorder:
    headers = {"authorization": f"Bearer {credential}"} if credential is not None else {}
    return await call(app, make_scope(path=path, headers=headers, client=(ip, 40000)))


def _types(recorder_scope: Any) -> list[str]:
    return [event.type for event in get_context(recorder_scope).events]


async def test_failures_trip_at_exactly_the_burst(backend: Backend) -> None:
    """Five bad tokens get 401; the sixth is refused 429 with Retry-After before the token is checked."""
    app = stack(backend.backend, backend.clock)
    for attempt in range(5):
        assert (await hit(app, credential=f"bad-{attempt}")).status == 401
    scope = make_scope(path="/x", headers={"authorization": "Bearer bad-6"}, client=("10.0.0.1", 1))
    refused = await call(app, scope)
    assert refused.status == 429
    assert refused.json()["error"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    assert _types(scope) == ["rate_limit_hit"]  # no authn_failure: authentication never ran
    assert get_context(scope).events[0].extra["limit"] == "ip"


async def test_a_success_is_never_charged(backend: Backend) -> None:
    """Any number of successes leave the whole failure allowance to failures."""
    inner = App()
    app = stack(backend.backend, backend.clock, inner)
    good = token()
    for _ in range(30):
        assert (await hit(app, credential=good)).status == 200
    for attempt in range(5):
        assert (await hit(app, credential=f"bad-{attempt}")).status == 401
    assert (await hit(app, credential="bad-6")).status == 429
    assert inner.calls == 30


async def test_an_attacker_cannot_lock_out_a_victim_from_another_address(backend: Backend) -> None:
    """The attacker's address is blocked; the victim's valid credential from elsewhere is served.

    The trade-off: a limit keyed by address also refuses whoever shares it (a NAT) until it refills.
    """
    app = stack(backend.backend, backend.clock, limits=failure_limits(per_ip="5/10minutes"))
    victim = token("victim")
    for attempt in range(5):
        assert (await hit(app, "10.6.6.6", f"guess-{attempt}")).status == 401
    assert (await hit(app, "10.6.6.6", "guess-x")).status == 429
    assert (await hit(app, "10.1.2.3", victim)).status == 200
    assert (await hit(app, "10.6.6.6", victim)).status == 429  # the shared-address trade-off


async def test_a_credential_failing_from_many_addresses_is_refused(backend: Backend) -> None:
    """The credential key follows one presented credential across addresses (never the raw value)."""
    app = stack(
        backend.backend, backend.clock, limits=failure_limits(per_ip="20/10minutes", per_credential="3/10minutes")
    )
    for index in range(3):
        assert (await hit(app, f"10.0.1.{index}", "stolen-but-revoked")).status == 401
    scope = make_scope(path="/x", headers={"authorization": "Bearer stolen-but-revoked"}, client=("10.0.9.9", 1))
    assert (await call(app, scope)).status == 429
    assert get_context(scope).events[0].extra["limit"] == "failures_credential"
    assert (await hit(app, "10.0.9.9", "another")).status == 401  # that address still has its own allowance


async def test_shadow_mode_only_logs(backend: Backend) -> None:
    """In shadow mode an empty bucket is logged (result shadow) and the request goes on to 401."""
    app = stack(backend.backend, backend.clock, shadow=True)
    for attempt in range(5):
        assert (await hit(app, credential=f"bad-{attempt}")).status == 401
    scope = make_scope(path="/x", headers={"authorization": "Bearer bad-6"}, client=("10.0.0.1", 1))
    assert (await call(app, scope)).status == 401
    events = [(event.type, event.result) for event in get_context(scope).events]
    assert events[0] == ("rate_limit_hit", "shadow")
    assert ("authn_failure", "deny") in events


async def test_only_failures_in_the_failure_set_are_charged(backend: Backend) -> None:
    """App 401s count (a wrong password); 404s, 500s and missing credentials do not."""
    app = stack(backend.backend, backend.clock)
    good = token()
    for _ in range(10):
        assert (await hit(app, credential=good, path="/status/404")).status == 404
        assert (await hit(app, credential=None)).status == 401  # missing_credentials: no guess made
    for _ in range(5):
        assert (await hit(app, credential=good, path="/status/401")).status == 401
    assert (await hit(app, credential=good)).status == 429


async def test_principal_limits_after_authentication(backend: Backend) -> None:
    """A post-auth placement keys on the principal: its 403s (tenant probing) exhaust its own bucket."""
    clock = backend.clock
    abuse = AbuseConfig(
        backend=backend.backend,
        clock=clock,
        stage="post_auth",
        limits=(FailureLimit(name="principal", rate="3/10minutes", key="principal"),),
        patterns=QUIET,
    )
    tenancy = TenancyConfig(routes=("/c/{community_id}",))
    app = guard(App(), abuse, auth_config(clock), tenancy)
    member = token("prober", communities=["1"])
    for community in range(2, 5):
        assert (await hit(app, credential=member, path=f"/c/{community}")).status == 403
    assert (await hit(app, credential=member, path="/c/1")).status == 429
    assert (await hit(app, credential=token("other", communities=["1"]), path="/c/1")).status == 200


async def test_the_bucket_refills_with_time() -> None:
    """After one interval (10 minutes / 5) one more failure fits; not a microsecond earlier."""
    clock = FakeClock(NOW)
    app = stack(MemoryRateLimitBackend(clock=clock), clock)
    for attempt in range(5):
        assert (await hit(app, credential=f"bad-{attempt}")).status == 401
    refused = await hit(app, credential="bad")
    assert refused.headers["retry-after"] == "120"
    clock.advance(119.999)
    assert (await hit(app, credential="bad")).status == 429
    clock.advance(0.001)
    assert (await hit(app, credential="bad")).status == 401
    assert (await hit(app, credential="bad")).status == 429


class CountingBackend(MemoryRateLimitBackend):
    """The memory backend, counting the calls the layer makes to it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.calls = 0

    async def check(self, checks: Any) -> Any:
        self.calls += 1
        return await super().check(checks)


async def test_known_good_clients_cost_no_backend_call() -> None:
    """A client and credential that succeeded skip the shared pre-check until they fail (or expire)."""
    clock = FakeClock(NOW)
    counting = CountingBackend(clock)
    app = stack(counting, clock, limits=failure_limits(per_ip="5/10minutes"))
    good = token()
    assert (await hit(app, credential=good)).status == 200
    assert counting.calls == 1
    for _ in range(20):
        assert (await hit(app, credential=good)).status == 200
    assert counting.calls == 1
    assert (await hit(app, credential=good, path="/status/401")).status == 401
    assert counting.calls == 1 + 2  # no pre-check (trusted), one charge per bucket
    assert (await hit(app, credential=good)).status == 200
    assert counting.calls == 4  # no longer trusted after a failure: checked again
    assert (await hit(app, credential=good)).status == 200
    assert counting.calls == 4
    clock.advance(61)
    assert (await hit(app, credential=good)).status == 200
    assert counting.calls == 5  # trust expires


@pytest.mark.parametrize(("mode", "status"), [("closed", 503), ("open", 401), ("local", 401)])
async def test_backend_down_follows_the_fail_mode(mode: str, status: int) -> None:
    """Redis unreachable: closed answers 503, open lets the request through, local limits in memory."""
    clock = FakeClock(NOW)
    dead = RedisRateLimitBackend.from_url("redis://127.0.0.1:1/0", connect_timeout=0.2)
    app = stack(dead, clock, fail_mode=mode, budget=0.2)
    scope = make_scope(path="/x", headers={"authorization": "Bearer bad"}, client=("10.0.0.1", 1))
    assert (await call(app, scope)).status == status
    await dead.aclose()


async def test_local_fail_mode_still_limits() -> None:
    """With Redis down and fail mode local, the in-memory fallback counts failures exactly."""
    clock = FakeClock(NOW)
    dead = RedisRateLimitBackend.from_url("redis://127.0.0.1:1/0", connect_timeout=0.2)
    app = stack(dead, clock, fail_mode="local", budget=0.2, breaker_threshold=1)
    for attempt in range(5):
        assert (await hit(app, credential=f"bad-{attempt}")).status == 401
    assert (await hit(app, credential="bad")).status == 429
    await dead.aclose()


async def test_websocket_handshakes_are_limited_and_lifespan_passes() -> None:
    """A refused handshake is closed 1008 before accept; lifespan reaches the app untouched."""
    clock = FakeClock(NOW)
    inner = App()
    app = AbuseMiddleware(
        inner,
        AbuseConfig(
            backend=MemoryRateLimitBackend(clock=clock),
            clock=clock,
            limits=failure_limits(per_ip="1/minute"),
            patterns=QUIET,
        ),
    )
    ws = make_scope(path="/ws", type="websocket", client=("10.0.0.1", 1))
    recorder = await call(app, ws)
    assert recorder.messages[0]["type"] == "websocket.accept"
    assert (await call(app, make_scope(path="/status/401", client=("10.0.0.1", 1)))).status == 401
    refused = await call(app, make_scope(path="/ws", type="websocket", client=("10.0.0.1", 1)))
    assert refused.messages == [{"type": "websocket.close", "code": 1008, "reason": "rate_limit_exceeded"}]
    await call(app, {"type": "lifespan"})
    assert inner.calls == 2


async def test_a_session_cookie_is_a_credential() -> None:
    """Without a credential header, the session cookie is fingerprinted like a bearer token."""
    clock = FakeClock(NOW)
    limits = failure_limits(per_ip="50/10minutes", per_credential="2/10minutes")
    config = AbuseConfig(backend=MemoryRateLimitBackend(clock=clock), clock=clock, limits=limits, patterns=QUIET)
    app = AbuseMiddleware(App(), config)  # the app's own 401s (a cookie session it refused)
    for index in range(2):
        scope = make_scope(
            path="/status/401", headers={"cookie": "a=1; __Host-session=stolen"}, client=(f"10.0.0.{index}", 1)
        )
        assert (await call(app, scope)).status == 401
    refused = make_scope(path="/x", headers={"cookie": "__Host-session=stolen"}, client=("10.0.0.9", 1))
    assert (await call(app, refused)).status == 429
    other = make_scope(path="/status/401", headers={"cookie": "__Host-session=other"}, client=("10.0.0.9", 1))
    assert (await call(app, other)).status == 401


async def test_a_pattern_store_failure_is_reported_not_raised() -> None:
    """Redis down with fail mode open: the failure is answered, and the lost observation is logged."""
    clock = FakeClock(NOW)
    dead = RedisRateLimitBackend.from_url("redis://127.0.0.1:1/0", connect_timeout=0.2)
    app = stack(dead, clock, fail_mode="open", budget=0.2, patterns=Patterns())
    scope = make_scope(path="/x", headers={"authorization": "Bearer bad"}, client=("10.0.0.1", 1))
    assert (await call(app, scope)).status == 401
    reasons = [event.reason for event in get_context(scope).events if event.type == "backend_failure"]
    assert reasons == ["pattern_store_unavailable:ConnectionError"]
    await dead.aclose()


class FailingBackend:
    """A remote backend whose every call fails (a Redis that answers errors)."""

    async def check(self, checks: Any) -> Any:
        raise ConnectionError("backend down")


@pytest.mark.parametrize(
    ("mode", "status", "event"), [("closed", 503, "backend_failure"), ("open", 401, "rate_limit_fail_open")]
)
async def test_a_failing_backend_follows_the_fail_mode(mode: str, status: int, event: str) -> None:
    """Every call failing: closed refuses 503 with Retry-After; open lets the request through, logged."""
    clock = FakeClock(NOW)
    app = stack(FailingBackend(), clock, fail_mode=mode, breaker_threshold=1)
    scope = make_scope(path="/x", headers={"authorization": "Bearer bad"}, client=("10.0.0.1", 1))
    recorder = await call(app, scope)
    assert recorder.status == status
    kinds = [(e.type, e.reason) for e in get_context(scope).events]
    assert ("rate_limit_backend", "circuit_open") in kinds
    assert event in [kind for kind, _ in kinds]
    if mode == "closed":
        assert recorder.headers["retry-after"] == "5"


async def test_without_trust_every_request_is_checked() -> None:
    """trust_success_for=0: even a client that just succeeded is checked against the shared bucket."""
    clock = FakeClock(NOW)
    counting = CountingBackend(clock)
    app = stack(counting, clock, trust_success_for=0)
    good = token()
    for _ in range(3):
        assert (await hit(app, credential=good)).status == 200
    assert counting.calls == 3


async def test_requests_without_a_credential_key_only_the_address() -> None:
    """A cookie header without the session cookie, or no principal yet, leaves those buckets out."""
    clock = FakeClock(NOW)
    counting = CountingBackend(clock)
    limits = (
        FailureLimit(name="ip", rate="2/minute", key="ip"),
        FailureLimit(name="credential", rate="1/minute", key="credential"),
    )
    app = AbuseMiddleware(App(), AbuseConfig(backend=counting, clock=clock, limits=limits, patterns=QUIET))
    for _ in range(2):
        scope = make_scope(path="/status/401", headers={"cookie": "theme=dark"}, client=("10.0.0.1", 1))
        assert (await call(app, scope)).status == 401
    assert (await call(app, make_scope(path="/", client=("10.0.0.1", 1)))).status == 429
    principal_limits = (FailureLimit(name="p", rate="1/minute", key="principal"),)
    post = AbuseMiddleware(App(), AbuseConfig(stage="post_auth", limits=principal_limits, patterns=QUIET))
    for _ in range(3):  # anonymous: no principal, no bucket
        assert (await call(post, make_scope(path="/status/401"))).status == 401


async def test_patterns_trip_without_a_hook(backend: Backend) -> None:
    """No hook configured: the event and the counter are all there is."""
    once = Patterns(
        repeated_failures=Threshold(count=1, window=60),
        credential_stuffing=None,
        leaked_credential=None,
        tenant_probing=None,
        signature_burst=None,
    )
    app = stack(backend.backend, backend.clock, patterns=once)
    scope = make_scope(path="/x", headers={"authorization": "Bearer bad"}, client=("10.0.0.1", 1))
    assert (await call(app, scope)).status == 401
    assert [e.reason for e in get_context(scope).events if e.type == "suspicious_activity"] == ["repeated_failures"]


async def refuse_as_forgery(scope: Any, receive: Any, send: Any) -> None:
    """An inner layer refusing every request as CSRF does (through the one refusal path)."""
    await send_denial(scope, send, GuardError(ErrorCode.CSRF_FAILED, "cross_site"))


@pytest.mark.parametrize(
    ("headers", "charged"),
    [
        ({"cookie": "__Host-session=victim", "sec-fetch-site": "cross-site"}, False),
        ({"cookie": "__Host-session=victim", "sec-fetch-site": "same-site"}, False),
        ({"cookie": "__Host-session=victim", "sec-fetch-site": "same-origin"}, True),
        ({"cookie": "__Host-session=victim"}, True),
        ({"authorization": "Bearer t", "sec-fetch-site": "cross-site"}, True),
    ],
)
async def test_a_site_cannot_lock_out_a_cookie_holder(headers: dict[str, str], charged: bool) -> None:
    """403s of a cookie-credentialed request the browser sent for another site charge nobody: any page
    could otherwise spend a victim's allowance. A credential header cannot be forged that way."""
    clock = FakeClock(NOW)
    limits = failure_limits(per_ip="3/10minutes")
    app = AbuseMiddleware(refuse_as_forgery, AbuseConfig(clock=clock, limits=limits, patterns=Patterns()))
    statuses = [(await call(app, make_scope(headers=headers, client=("10.0.0.1", 1)))).status for _ in range(4)]
    assert statuses == ([403] * 3 + [429] if charged else [403] * 4)


@pytest.mark.redis
async def test_refusals_come_from_the_deny_cache(redis_server: Any) -> None:
    """Once Redis said a bucket is empty, this instance refuses that client without asking again."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    clock = FakeClock(NOW)
    remote = RedisRateLimitBackend(client, clock=clock)
    app = stack(remote, clock)
    for attempt in range(5):
        assert (await hit(app, credential=f"bad-{attempt}")).status == 401
    assert (await hit(app, credential="bad-5")).status == 429  # asked Redis once more: now known empty
    before = int((await client.info("stats"))["total_reads_processed"])
    for attempt in range(20):
        assert (await hit(app, credential=f"more-{attempt}")).status == 429
    after = int((await client.info("stats"))["total_reads_processed"])
    assert after - before == 1  # the INFO command itself
    await remote.aclose()
    await client.aclose()


async def test_memory_stays_bounded_under_fresh_and_huge_credentials() -> None:
    """Fresh credentials and addresses, some huge, never grow the per-process memos past their bounds."""
    clock = FakeClock(NOW)
    config = AbuseConfig(clock=clock, limits=failure_limits(per_ip="100000/minute"), patterns=QUIET)
    app = AbuseMiddleware(App(), config)
    for index in range(TRUSTED_LIMIT + 50):
        credential = "x" * (MEMO_MAX_BYTES + 1) if index % 2 else f"token-{index}"
        scope = make_scope(
            headers={"authorization": f"Bearer {credential}"},
            client=(f"10.{index // 65536}.{index // 256 % 256}.{index % 256}", 1),
        )
        assert (await call(app, scope)).status == 200
    assert len(app._fingerprints) <= TRUSTED_LIMIT
    assert len(app._trusted) <= TRUSTED_LIMIT
    assert all(len(raw) <= MEMO_MAX_BYTES for raw in app._fingerprints)
