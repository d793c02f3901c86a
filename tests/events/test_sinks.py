"""Event sinks: JSON log lines on asgi_guard.security and OpenTelemetry span events plus a counter."""

from __future__ import annotations

import logging

import msgspec
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from asgi_guard.events import SECURITY_LOGGER, LoggingSink, OpenTelemetrySink, SecurityEvent
from asgi_guard.events.sinks import ATTRIBUTE_SETS

DENY = SecurityEvent(
    type="authn_failure",
    result="deny",
    time=1.5,
    request_id="r1",
    client_ip="192.0.2.1",
    reason="bad_signature",
    extra={"provider": "github"},
)
ALLOW = SecurityEvent(type="api_key_used", result="allow", time=2.0, principal_id="u1", key_fingerprint="abc123")


def test_logging_sink_writes_one_json_line_per_event(caplog: pytest.LogCaptureFixture) -> None:
    """Denials log at WARNING and others at INFO, each as one JSON object without default fields."""
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    sink = LoggingSink()
    sink(DENY)
    sink(ALLOW)
    assert [(r.name, r.levelno) for r in caplog.records] == [
        (SECURITY_LOGGER, logging.WARNING),
        (SECURITY_LOGGER, logging.INFO),
    ]
    first = msgspec.json.decode(caplog.records[0].getMessage())
    assert first == {
        "type": "authn_failure",
        "result": "deny",
        "time": 1.5,
        "request_id": "r1",
        "client_ip": "192.0.2.1",
        "reason": "bad_signature",
        "extra": {"provider": "github"},
    }
    assert msgspec.json.decode(caplog.records[1].getMessage(), type=SecurityEvent) == ALLOW


def test_logging_sink_skips_disabled_levels(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing is logged (or encoded) when the logger's level filters the event out."""
    caplog.set_level(logging.DEBUG, logger="tests.events")
    logger = logging.getLogger("tests.events.quiet")
    logger.setLevel(logging.ERROR)
    LoggingSink(logger)(DENY)
    assert caplog.records == []


def test_opentelemetry_sink_adds_span_events_and_counts() -> None:
    """Inside a recording span the event becomes a span event; every event increments the counter."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    sink = OpenTelemetrySink(meter_provider.get_meter("tests"))

    with tracer_provider.get_tracer("tests").start_as_current_span("request"):
        sink(DENY)
        sink(ALLOW)
    sink(DENY)  # outside any span: counted, no span event, no error

    [span] = exporter.get_finished_spans()
    assert [event.name for event in span.events] == ["asgi_guard.authn_failure", "asgi_guard.api_key_used"]
    assert dict(span.events[0].attributes or {}) == {
        "asgi_guard.result": "deny",
        "asgi_guard.request_id": "r1",
        "asgi_guard.client_ip": "192.0.2.1",
        "asgi_guard.reason": "bad_signature",
        "asgi_guard.provider": "github",
    }
    assert dict(span.events[1].attributes or {})["asgi_guard.key_fingerprint"] == "abc123"

    metrics = reader.get_metrics_data()
    assert metrics is not None
    [metric] = [m for rm in metrics.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert metric.name == "asgi_guard.security_events"
    counts = {(p.attributes["type"], p.attributes["result"]): p.value for p in metric.data.data_points}  # type: ignore[index,union-attr]
    assert counts == {("authn_failure", "deny"): 2, ("api_key_used", "allow"): 1}
    tracer_provider.shutdown()
    meter_provider.shutdown()


def test_opentelemetry_sink_counts_every_type_with_bounded_attribute_sets() -> None:
    """More (type, result) pairs than the attribute memo holds are all counted; the memo stays bounded."""
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    sink = OpenTelemetrySink(meter_provider.get_meter("tests"))
    types = [f"custom_{index}" for index in range(ATTRIBUTE_SETS + 3)]
    for name in [*types, types[0]]:
        sink(msgspec.structs.replace(ALLOW, type=name))
        assert len(sink._attributes) <= ATTRIBUTE_SETS
    metrics = reader.get_metrics_data()
    assert metrics is not None
    [metric] = [m for rm in metrics.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    counts = {p.attributes["type"]: p.value for p in metric.data.data_points}  # type: ignore[index,union-attr]
    assert counts == {name: 2 if name == types[0] else 1 for name in types}
    meter_provider.shutdown()
