"""Every scheme refuses every malformed signature-related header the same way: 401 with its code.

Regression for issue 11 item 8: Slack with a non-numeric timestamp answered 400 where GitHub, Discord
and the rest answered 401. Whatever part of the signature headers is broken (absent, empty,
oversized, duplicated, binary, a timestamp that is not one, an id that is not printable), the request
cannot be verified: 401 ``missing_signature`` when a header is absent, ``invalid_signature``
otherwise. Never a 400, never a 500, and never the app.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_guard.testing import FakeClock, call, make_scope
from asgi_guard.webhooks import WebhookConfig, WebhookMiddleware
from tests.webhooks.helpers import NOW, RecordingApp
from tests.webhooks.schemes import SCHEMES

BODY = b'{"type":2,"event":"x"}'
UNSIGNED = {"twitch-eventsub-message-type"}  # an unknown type is the app's to handle (test_unsigned_headers)
FREE_FORM = {"x-github-delivery"}  # unsigned by GitHub: any well-formed id is as good as the original

# Malformed in any header of any scheme.
COMMON: tuple[bytes, ...] = (b"", b" ", b"x" * 5000, b"\xff\xfe\x00", b"\x00", b"\r\n", "é".encode())
# Malformed for one kind of header (the values a hostile or broken sender writes).
TIMESTAMPS: tuple[bytes, ...] = (
    b"abc",
    b"-1700000000",
    b"+1700000000",
    b"1700000000.5",
    b"1.7e9",
    b" 1700000000",
    b"1700000000 ",
    b"0x6553f100",
    "\uff11\uff17".encode() + b"00000000",  # full-width digits
    b"9" * 40,
)
RFC3339: tuple[bytes, ...] = (b"1700000000", b"2023-11-14 22:13:20Z", b"2023-02-30T00:00:00Z", b"0000-01-01T00:00:00Z")
IDS: tuple[bytes, ...] = (b"has space", b"x" * 257, b"tab\tid", "ünï".encode())
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "x-webhook-signature": (b"sha256=", b"sha256=abc", b"zz" * 32, b"sha512=" + b"a" * 64),
    "twitch-eventsub-message-signature": (b"a" * 64, b"sha1=" + b"a" * 40, b"sha256=" + b"g" * 64),
    "x-signature-ed25519": (b"a" * 64, b"zz" * 64, b"a" * 129),
    "x-slack-signature": (b"a" * 64, b"v1=" + b"a" * 64, b"v0=", b"v0=xyz"),
    "x-hub-signature-256": (b"a" * 64, b"sha1=" + b"a" * 40, b"sha256=" + b"a" * 63),
    "stripe-signature": (b"v1=" + b"a" * 64, b"t=1700000000", b"t=abc,v1=" + b"a" * 64, b"t=1,t=2,v1=" + b"a" * 64),
    "webhook-signature": (b"v1", b"v1,!!!!", b"v2," + b"A" * 44, b"v1,AAAA"),
    "svix-signature": (b"v1", b"v1,!!!!", b"v2," + b"A" * 44, b"v1,AAAA"),
}
SPECIFIC: dict[str, tuple[bytes, ...]] = {
    "x-webhook-timestamp": TIMESTAMPS,
    "x-signature-timestamp": TIMESTAMPS,
    "x-slack-request-timestamp": TIMESTAMPS,
    "webhook-timestamp": TIMESTAMPS,
    "svix-timestamp": TIMESTAMPS,
    "twitch-eventsub-message-timestamp": RFC3339,
    "twitch-eventsub-message-id": IDS,
    "x-github-delivery": IDS,
    "webhook-id": IDS,
    "svix-id": IDS,
    **SIGNATURES,
}


def _signed(scheme: str) -> dict[str, bytes]:
    return {name.lower(): value.encode() for name, value in SCHEMES[scheme][1](BODY).items()}


def _cases() -> list[Any]:
    cases = []
    for scheme in SCHEMES:
        for name in _signed(scheme):
            if name in UNSIGNED:
                continue
            cases.append(pytest.param(scheme, name, None, id=f"{scheme}-{name}-absent"))
            cases.append(pytest.param(scheme, name, "twice", id=f"{scheme}-{name}-twice"))
            for index, value in enumerate(COMMON + SPECIFIC.get(name, ())):
                cases.append(pytest.param(scheme, name, value, id=f"{scheme}-{name}-{index}"))
    return cases


def run(scheme: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, str, RecordingApp]:
    app = RecordingApp()
    mw = WebhookMiddleware(app, WebhookConfig(routes={"/hook": SCHEMES[scheme][0]}, clock=FakeClock(NOW)))

    async def go() -> tuple[int, str]:
        response = await call(mw, make_scope("POST", "/hook", headers=headers), BODY)
        return response.status, response.json()["error"] if response.status != 200 else ""

    status, code = anyio.run(go)
    return status, code, app


def _with(signed: dict[str, bytes], name: str, value: bytes | str | None) -> list[tuple[bytes, bytes]]:
    headers = [(key.encode(), original) for key, original in signed.items() if key != name]
    if value == "twice":
        headers += [(name.encode(), signed[name]), (name.encode(), signed[name])]
    elif isinstance(value, bytes):
        headers.append((name.encode(), value))
    return headers


def test_every_scheme_accepts_the_untouched_request() -> None:
    """The table's baseline: each scheme's correctly signed request is accepted."""
    for scheme in SCHEMES:
        status, _, app = run(scheme, _with(_signed(scheme), "", None))
        assert (scheme, status, app.bodies) == (scheme, 200, [BODY])


@pytest.mark.parametrize(("scheme", "name", "value"), _cases())
def test_malformed_signature_header_is_401(scheme: str, name: str, value: bytes | str | None) -> None:
    """Absent -> 401 missing_signature; anything else malformed -> 401 invalid_signature; never the app."""
    status, code, app = run(scheme, _with(_signed(scheme), name, value))
    expected = "missing_signature" if value is None else "invalid_signature"
    assert (status, code) == (401, expected)
    assert app.bodies == []


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_replaced_signature_header_is_401(scheme: str, data: st.DataObject) -> None:
    """Whatever bytes replace one signed header, the answer is a 401 (stale_timestamp included), never the app."""
    signed = _signed(scheme)
    name = data.draw(st.sampled_from(sorted(set(signed) - UNSIGNED - FREE_FORM)))
    value = data.draw(st.binary(max_size=90).filter(lambda raw: raw != signed[name]))
    status, code, app = run(scheme, _with(signed, name, value))
    assert status == 401
    assert code in ("invalid_signature", "stale_timestamp", "missing_signature")
    assert app.bodies == []
