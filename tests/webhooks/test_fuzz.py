"""Hypothesis fuzzing of every header parser and verifier: hostile input never raises past the
middleware, always gets a stable 4xx, and a tampered request never reaches the app."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_guard.errors import GuardError
from asgi_guard.testing import FakeClock, call, make_scope
from asgi_guard.webhooks import (
    Verifier,
    WebhookConfig,
    WebhookMiddleware,
)
from asgi_guard.webhooks._base import header, unhex, unix_seconds
from asgi_guard.webhooks.standard import parse_signatures
from asgi_guard.webhooks.stripe import parse_stripe_header
from asgi_guard.webhooks.twitch import parse_rfc3339
from tests.webhooks.helpers import NOW, RecordingApp
from tests.webhooks.schemes import SCHEMES

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADER_NAMES = sorted({name.lower() for _, sign in SCHEMES.values() for name in sign(b"")} | {"content-length"})
REFUSALS = {400, 401, 409, 413}
HEX_SIGNATURES = {
    "x-webhook-signature",
    "twitch-eventsub-message-signature",
    "x-signature-ed25519",
    "x-slack-signature",
    "x-hub-signature-256",
    "stripe-signature",
}
UNSIGNED = {"twitch-eventsub-message-type", "x-github-delivery"}  # documented: the providers do not sign them

header_values = st.one_of(
    st.binary(max_size=80),
    st.text(max_size=80).map(lambda text: text.encode("utf-8")),
    st.sampled_from([b"", b"sha256=", b"v0=", b"v1,", b"t=", b"t=1,v1=", b"x" * 5000, "é".encode("latin-1")]),
    st.integers().map(lambda number: str(number).encode()),
)
hostile_headers = st.lists(st.tuples(st.sampled_from(HEADER_NAMES).map(str.encode), header_values), max_size=8)
bodies = st.one_of(st.binary(max_size=64), st.lists(st.binary(max_size=16), min_size=1, max_size=4))


def run(verifier: Verifier, headers: list[tuple[bytes, bytes]], body: bytes | list[bytes]) -> tuple[int, RecordingApp]:
    app = RecordingApp()
    config = WebhookConfig(routes={"/hook": verifier}, clock=FakeClock(NOW), max_body_bytes=48)
    mw = WebhookMiddleware(app, config)

    async def go() -> int:
        response = await call(mw, make_scope("POST", "/hook", headers=headers), body)
        return response.status

    return anyio.run(go), app


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@FUZZ
@given(headers=hostile_headers, body=bodies)
def test_random_headers_never_escape(scheme: str, headers: list[tuple[bytes, bytes]], body: Any) -> None:
    """Random, duplicated, binary and oversized headers get a 4xx with a stable code and never reach the app."""
    status, app = run(SCHEMES[scheme][0], headers, body)
    assert status in REFUSALS
    assert app.bodies == []


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@FUZZ
@given(body=st.binary(min_size=1, max_size=40), data=st.data())
def test_tampered_body_never_reaches_app(scheme: str, body: bytes, data: st.DataObject) -> None:
    """A validly signed request whose body changed in any way is refused; the untouched one passes."""
    verifier, sign = SCHEMES[scheme]
    headers = [(name.lower().encode(), value.encode()) for name, value in sign(body).items()]
    index = data.draw(st.integers(0, len(body) - 1))
    tampered = body[:index] + bytes([body[index] ^ data.draw(st.integers(1, 255))]) + body[index + 1 :]
    status, app = run(verifier, headers, tampered)
    assert status == 401
    assert app.bodies == []
    status, app = run(verifier, headers, body)
    assert status == 200


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@FUZZ
@given(data=st.data())
def test_mutated_header_is_refused_or_equivalent(scheme: str, data: st.DataObject) -> None:
    """Changing one byte of one signed header is refused unless it only changed the case of a hex digit."""
    verifier, sign = SCHEMES[scheme]
    body = b'{"type":2}'
    signed = {name.lower(): value.encode() for name, value in sign(body).items()}
    name = data.draw(st.sampled_from(sorted(signed)))
    value = signed[name]
    index = data.draw(st.integers(0, len(value) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda byte: byte != value[index]))
    mutated = value[:index] + bytes([replacement]) + value[index + 1 :]
    headers = [(key.encode(), mutated if key == name else original) for key, original in signed.items()]
    status, app = run(verifier, headers, body)
    if not app.bodies:
        assert status in REFUSALS
        return
    # Reaching the app is only allowed for a hex digit's case, or a header the provider does not sign.
    hex_case = mutated.lower() == value.lower() and name in HEX_SIGNATURES
    assert hex_case or name in UNSIGNED


PARSERS = [
    parse_rfc3339,
    parse_stripe_header,
    parse_signatures,
    unix_seconds,
    unhex,
    lambda raw: header(make_scope(headers=[(b"x-sig", raw), (b"x-sig", raw)]), b"x-sig"),
    lambda raw: header(make_scope(headers=[(b"x-sig", raw)]), b"x-sig"),
]


@pytest.mark.parametrize("parser", PARSERS)
@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.binary(max_size=120), st.text(max_size=60).map(lambda text: text.encode("utf-8"))))
def test_parsers_raise_only_guard_errors(parser: Any, raw: bytes) -> None:
    """Every header parser either returns or raises GuardError, whatever the bytes."""
    status = 0
    try:
        parser(raw)
    except GuardError as error:
        status = error.status
    assert status == 0 or 400 <= status < 500
