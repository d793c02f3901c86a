"""Events cost nothing when nobody listens: no SecurityEvent is built for a decision whose logger
level and OpenTelemetry meter would drop it."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from asgi_guard.context import GuardContext
from asgi_guard.events import SECURITY_LOGGER, Emitter, LoggingSink, OpenTelemetrySink, SecurityEvent, emit
from asgi_guard.testing import make_scope

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def warning_level() -> Iterator[logging.Logger]:
    logger = logging.getLogger(SECURITY_LOGGER)
    previous = logger.level
    logger.setLevel(logging.WARNING)
    yield logger
    logger.setLevel(previous)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[SecurityEvent]:
    """Every SecurityEvent constructed by emit()."""
    made: list[SecurityEvent] = []

    def counting(**fields: object) -> SecurityEvent:
        event = SecurityEvent(**fields)  # type: ignore[arg-type]
        made.append(event)
        return event

    # The module, not the function the package re-exports under the same name.
    monkeypatch.setattr(importlib.import_module("asgi_guard.events.emit"), "SecurityEvent", counting)
    return made


def test_no_event_built_below_the_logger_level(warning_level: logging.Logger, built: list[SecurityEvent]) -> None:
    """The default sinks at WARNING without an OTel SDK: an allow event is not built, a denial is."""
    scope = make_scope()
    assert emit(scope, "authn_success", "allow", "jwt") is None
    assert built == []
    assert GuardContext.from_scope(scope).events == []
    denial = emit(scope, "authn_failure", "deny", "bad")
    assert denial is not None
    assert built == [denial]
    assert GuardContext.from_scope(scope).events == [denial]


def test_level_change_is_seen_at_once(warning_level: logging.Logger, built: list[SecurityEvent]) -> None:
    """Lowering the level later makes the next allow event appear (isEnabledFor is asked per event)."""
    scope = make_scope()
    assert emit(scope, "authn_success", "allow") is None
    warning_level.setLevel(logging.INFO)
    assert emit(scope, "authn_success", "allow") is not None
    assert len(built) == 1


def test_a_meter_or_a_recording_span_listens(warning_level: logging.Logger, built: list[SecurityEvent]) -> None:
    """An explicit meter always takes events; without one, a recording span does."""
    metered = Emitter([LoggingSink(), OpenTelemetrySink(MeterProvider([InMemoryMetricReader()]).get_meter("t"))])
    assert metered.wants("allow")
    plain = Emitter([LoggingSink(), OpenTelemetrySink()])
    assert not plain.wants("allow")
    assert plain.wants("deny")
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("request"):
        assert plain.wants("allow")
    assert built == []


def test_custom_sinks_take_everything(warning_level: logging.Logger, built: list[SecurityEvent]) -> None:
    """A sink without `wants` is assumed to listen; a `wants` that fails counts as listening."""
    seen: list[SecurityEvent] = []
    scope = make_scope()
    GuardContext.from_scope(scope).emitter = Emitter([seen.append])
    assert emit(scope, "authn_success", "allow") is not None
    assert seen == built

    class Broken:
        def wants(self, result: str) -> bool:
            raise RuntimeError(result)

        def __call__(self, event: SecurityEvent) -> None:
            seen.append(event)

    assert Emitter([Broken()]).wants("allow")


def test_only_the_sinks_that_want_an_event_receive_it(warning_level: logging.Logger) -> None:
    """One sink listening does not make the others receive it: each is asked, and only takers get it."""
    taken: list[str] = []

    class Choosy:
        def __init__(self, name: str, results: set[str]) -> None:
            self.name, self.results = name, results

        def wants(self, result: str) -> bool:
            return result in self.results

        def __call__(self, event: SecurityEvent) -> None:
            taken.append(f"{self.name}:{event.result}")

    alerts, everything = Choosy("alerts", {"alert"}), Choosy("all", {"allow", "alert"})
    emitter = Emitter([alerts, everything])
    assert emitter.recipients("allow") == (everything,)
    assert emitter.recipients("alert") == emitter.sinks
    assert emitter.recipients("deny") == ()
    scope = make_scope()
    GuardContext.from_scope(scope).emitter = emitter
    emit(scope, "authn_success", "allow")
    emit(scope, "suspicious_activity", "alert")
    assert emit(scope, "authn_failure", "deny") is None
    assert taken == ["all:allow", "alerts:alert", "all:alert"]


async def test_authenticated_requests_build_no_event_when_unheard(
    warning_level: logging.Logger, built: list[SecurityEvent]
) -> None:
    """Through the whole stack: an admitted request builds no event; a refused one still does."""
    from asgi_guard import AuthConfig, EventsConfig, JWTAuth, KeyRing, MemoryRevocationStore, TokenService, guard
    from asgi_guard.testing import call

    async def ok(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    keyring = KeyRing.single("k" * 40)
    revocation = MemoryRevocationStore()
    token = TokenService(keyring, revocation).issue_access("u1")
    app = guard(
        ok, EventsConfig(), AuthConfig(jwt=JWTAuth(keyring=keyring, revocation=revocation, issuer=None, audience=None))
    )
    admitted = await call(app, make_scope(headers={"authorization": f"Bearer {token}"}))
    assert admitted.status == 200
    assert built == []
    refused = await call(app, make_scope(headers={"authorization": "Bearer nope"}))
    assert refused.status == 401
    assert [event.type for event in built] == ["authn_failure"]


pytestmark = pytest.mark.anyio


def test_a_provider_installed_later_is_noticed(monkeypatch: pytest.MonkeyPatch, warning_level: logging.Logger) -> None:
    """The provider is looked up again once PROVIDER_RECHECK has passed (never more often)."""
    from opentelemetry import metrics

    from asgi_guard.events import sinks

    sink = OpenTelemetrySink()
    assert not sink.wants("allow")
    installed = MeterProvider([InMemoryMetricReader()])
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: installed)
    assert not sink.wants("allow")  # within the recheck interval: not asked again
    monkeypatch.setattr(sinks, "PROVIDER_RECHECK", 0.0)
    assert sink.wants("allow")
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: metrics.NoOpMeterProvider())
    assert sink.wants("allow")  # once installed, it stays


def test_request_ids_are_unique_random_and_fork_fresh() -> None:
    """128-bit hex ids from one urandom read per pool; a forked child draws a new pool."""
    import os
    import warnings

    from asgi_guard.events.middleware import new_request_id

    ids = [new_request_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in ids)
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns about fork() in a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.waitpid(child, 0)
    theirs = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert theirs != new_request_id()
    assert theirs not in ids
