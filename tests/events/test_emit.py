"""Building security events from the request context: cleaning, fingerprints, fan-out."""

from __future__ import annotations

import logging

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard.context import GuardContext
from asgi_guard.events import SECURITY_LOGGER, Emitter, LoggingSink, SecurityEvent, emit, fingerprint
from asgi_guard.events.emit import MAX_FIELD, clean
from asgi_guard.principal import Principal
from asgi_guard.testing import FakeClock, make_scope


class Collect(logging.Handler):
    """Keeps formatted log lines (a handler of our own, so hypothesis can reuse it across examples)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_fingerprint_is_short_stable_and_not_the_secret() -> None:
    """fingerprint gives 12 hex chars, equal for str and bytes, different for different secrets."""
    assert fingerprint("s3cret") == fingerprint(b"s3cret")
    assert len(fingerprint("s3cret")) == 12
    assert int(fingerprint("s3cret"), 16) >= 0
    assert fingerprint("s3cret") != fingerprint("s3creT")
    assert "s3cret" not in fingerprint("s3cret")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("a\r\nb", "a\ufffd\ufffdb"),
        ("tab\there\x00\x7f\x85", "tab\ufffdhere\ufffd\ufffd\ufffd"),
        ("line\u2028sep\u2029", "line\ufffdsep\ufffd"),
        (b"\xff\xfebytes\n", "\ufffd\ufffdbytes\ufffd"),
    ],
)
def test_clean_replaces_control_characters(raw: str | bytes, expected: str) -> None:
    """clean decodes bytes leniently and replaces every control or line-separator character."""
    assert clean(raw) == expected


def test_clean_caps_length() -> None:
    """Values longer than the limit are cut and marked with an ellipsis."""
    assert clean("x" * 1000) == "x" * MAX_FIELD + "…"
    assert clean("abcdef", limit=3) == "abc…"


def test_emit_fills_the_event_from_the_context() -> None:
    """emit records principal, fingerprint, action, client, agent, community and cleaned extras in the context."""
    scope = make_scope("POST", "/c/1/mod", headers={"user-agent": "curl/8\r\nInjected: 1"}, client=("10.0.0.1", 9))
    ctx = GuardContext.from_scope(scope)
    seen: list[SecurityEvent] = []
    ctx.emitter = Emitter([seen.append], FakeClock(start=42.0))
    ctx.request_id = "rid-1"
    ctx.client_ip = "198.51.100.7"
    ctx.community_id = "c-1"
    ctx.principal = Principal("user\n1", method="api_key", key_fingerprint=fingerprint("wa-key"))
    event = emit(scope, "authz_denied", "deny", "no_grant\r\nfake", permission="module:install\x1b[31m")
    assert seen == [event]
    assert ctx.events == [event]
    assert event == SecurityEvent(
        type="authz_denied",
        result="deny",
        time=42.0,
        request_id="rid-1",
        principal_id="user\ufffd1",
        key_fingerprint=fingerprint("wa-key"),
        action="POST /c/1/mod",
        client_ip="198.51.100.7",
        user_agent="curl/8\ufffd\ufffdInjected: 1",
        community_id="c-1",
        reason="no_grant\ufffd\ufffdfake",
        extra={"permission": "module:install\ufffd[31m"},
    )


def test_emit_without_context_values_uses_the_peer_and_default_sinks(caplog: pytest.LogCaptureFixture) -> None:
    """Without layers, emit uses the peer address, WS for websockets, and the default logging sink."""
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    scope = make_scope(type="websocket", path="/ws", client=("192.0.2.1", 5))
    event = emit(scope, "authn_success", "allow")
    assert (event.client_ip, event.action, event.principal_id, event.user_agent) == ("192.0.2.1", "WS /ws", "", "")
    assert [record.levelno for record in caplog.records] == [logging.INFO]
    assert msgspec.json.decode(caplog.records[0].getMessage())["type"] == "authn_success"
    assert emit(make_scope(client=None), "x", "allow").client_ip == ""


def test_failing_sink_never_fails_the_request() -> None:
    """A sink that raises is skipped and the following sinks still get the event."""
    seen: list[SecurityEvent] = []

    def broken(event: SecurityEvent) -> None:
        raise RuntimeError("sink down")

    scope = make_scope()
    GuardContext.from_scope(scope).emitter = Emitter([broken, seen.append])
    emit(scope, "rate_limit_hit", "deny")
    assert len(seen) == 1


LOG_INJECTION = st.text(st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ['\r\n{"type":"authn_success"}', "\n", "\u2028", "\x1b[2J", "\x00"]
)


@settings(max_examples=200, deadline=None)
@given(agent=LOG_INJECTION, path=LOG_INJECTION, reason=LOG_INJECTION)
def test_client_values_cannot_forge_log_lines(agent: str, path: str, reason: str) -> None:
    """Whatever a client puts in its user agent, path or a reason, the event is exactly one parseable log line."""
    logger = logging.getLogger("tests.events.forge")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = Collect()
    logger.addHandler(handler)
    try:
        scope = make_scope(path="/" + path, headers=[(b"user-agent", agent.encode("utf-8"))])
        GuardContext.from_scope(scope).emitter = Emitter([LoggingSink(logger)])
        emit(scope, "authn_failure", "deny", reason)
    finally:
        logger.removeHandler(handler)
    assert len(handler.lines) == 1
    line = handler.lines[0]
    assert "\n" not in line
    assert "\r" not in line
    assert "\u2028" not in line
    assert msgspec.json.decode(line)["type"] == "authn_failure"


def test_client_ip_from_the_context_is_cleaned_too() -> None:
    """A non-IP client value kept by the client-ip layer (a socket path) is cleaned before logging."""
    scope = make_scope()
    GuardContext.from_scope(scope).client_ip = "/run/s\nforged"
    assert emit(scope, "x", "allow").client_ip == "/run/s\ufffdforged"


@settings(max_examples=200, deadline=None)
@given(
    principal_id=st.text(max_size=300),
    path=st.text(max_size=300),
    agent=st.binary(max_size=300),
    community=st.text(max_size=300),
    reason=st.text(max_size=300),
    client_ip=st.text(max_size=300),
)
def test_every_field_is_cleaned_exactly_as_clean_would(
    principal_id: str, path: str, agent: bytes, community: str, reason: str, client_ip: str
) -> None:
    """Each client-influenced field of an event equals clean() of its value, however the fields combine."""
    scope = make_scope(path="/" + path, headers=[(b"user-agent", agent)] if agent else [])
    ctx = GuardContext.from_scope(scope)
    ctx.principal = Principal(principal_id or "p")
    ctx.community_id = community or None
    ctx.client_ip = client_ip
    event = emit(scope, "x", "allow", reason)
    assert event.principal_id == clean(principal_id or "p")
    assert event.action == clean(f"GET /{path}")
    assert event.user_agent == clean(agent)
    assert event.community_id == clean(community)
    assert event.reason == clean(reason)
    assert event.client_ip == (clean(client_ip) if client_ip else "127.0.0.1")
