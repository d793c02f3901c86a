"""Hostile requests as hypothesis strategies (sent by :mod:`tests.reliability.driver`).

A request is raw ASGI: any header bytes (duplicated, non-latin-1, huge, upper-cased names), any
method and path, a body split into random chunks, and optionally a client that disconnects after
some chunks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from hypothesis import strategies as st

from tests.reliability.layers import ACTION_PATH, LAYERS, MODERATE_PATH, ROUTES, WEBHOOK_PATH, LayerSpec

if TYPE_CHECKING:
    from collections.abc import Callable

GENERIC_HOSTILE: Final[tuple[bytes, ...]] = (
    b"",
    b" ",
    b"\x00",
    b"\xff\xfe\xfd",
    "é中\u2028".encode(),
    b"\r\nX-Injected: yes",
    b"A" * 8192,
    b"B" * 70_000,
    b"null",
    b"-1",
    b"9" * 64,
    b"%00%0d%0a",
    b"../../etc/passwd",
    b"<script>alert(1)</script>",
)
"""Values tried on every header, whatever its meaning."""

OTHER_HEADERS: Final[dict[bytes, tuple[bytes, ...]]] = {
    b"content-type": (b"application/json", b"text/plain", b"application/json; charset=utf-16", b"multipart/x"),
    b"content-length": (b"0", b"5", b"-1", b"abc", b"99999999999999999999", b"1024"),
    b"x-forwarded-for": (b"1.2.3.4", b"1.2.3.4, 10.0.0.1", b"::1", b"not-an-ip", b"1.2.3.4," * 500),
    b"forwarded": (b"for=1.2.3.4", b'for="[::1]:80";proto=https', b"for=", b";;;"),
    b"user-agent": (b"curl/8", b"\r\nforged log line", b"U" * 5000),
    b"transfer-encoding": (b"chunked", b"gzip, chunked"),
}

BODIES: Final[tuple[bytes, ...]] = (
    b"",
    b'{"command": "greet", "user_id": "user:1"}',
    b'{"command": "greet", "user_id": "user:1", "extra": true}',
    b'{"command": 1, "user_id": null}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a": ' * 2000 + b"1" + b"}" * 2000,
    b"\xff\xfe{not json",
    b'{"command": "' + b"x" * 60_000 + b'"}',
    b"1e999999",
)

METHODS: Final = ("GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "get", "BREW", "")


@dataclass
class HostileRequest:
    """One request as the server would hand it over."""

    method: str
    path: str
    headers: list[tuple[bytes, bytes]]
    chunks: list[bytes]
    disconnect_after: int | None = None
    query_string: bytes = b""

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def scope(self) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode("utf-8", "surrogateescape"),
            "root_path": "",
            "query_string": self.query_string,
            "headers": list(self.headers),
            "client": ("203.0.113.9", 40000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }


# Strategies are built once: building them per draw costs more than running the request.
_PLAN: Final = st.tuples(st.integers(0, 5), st.integers(0, 1 << 16), st.integers(0, 1 << 16))
_METHOD: Final = st.sampled_from(METHODS)
_PATH: Final = st.one_of(
    st.sampled_from(ROUTES),
    st.sampled_from(ROUTES),
    st.sampled_from([route + "/" for route in ROUTES]),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40).map(lambda p: "/" + p),
)
_BODY: Final = st.one_of(st.sampled_from(BODIES), st.binary(max_size=256))
_EXTRA: Final = st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=40)), max_size=3)
_CUTS: Final = st.lists(st.integers(0, 1 << 20), max_size=4)
_DISCONNECT: Final = st.one_of(st.none(), st.none(), st.none(), st.integers(0, 8))
_QUERY: Final = st.sampled_from([b"", b"a=1", b"token=" + b"x" * 50, b"%ff%fe"])
_BITS: Final = st.integers(0, (1 << 32) - 1)


def header_values(plan: tuple[int, int, int], valid: list[bytes], hostile: list[bytes]) -> list[bytes]:
    """0, 1 or 2 values for one header: absent, valid (most often), hostile, or duplicated."""
    mode, i, j = plan
    bad = [*hostile, *GENERIC_HOSTILE]
    good = valid or bad
    if mode == 0:
        return []
    if mode <= 3:
        return [good[i % len(good)]]
    if mode == 4:
        return [bad[i % len(bad)]]
    return [good[i % len(good)], good[j % len(good)] if j % 2 else bad[j % len(bad)]]


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    """``body`` cut at the given points (modulo its length): the chunks of a streamed upload."""
    points = sorted(cut % (len(body) + 1) for cut in cuts)
    return [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]


POST_ROUTES: Final = frozenset({ACTION_PATH, WEBHOOK_PATH, MODERATE_PATH})
CREDENTIALS: Final = (b"authorization", b"x-api-key")


@st.composite
def hostile_requests(draw: Callable[..., Any], layers: tuple[LayerSpec, ...] = LAYERS) -> HostileRequest:
    """A hostile request built around the known layers' headers (see :mod:`tests.reliability.layers`).

    Two in five requests are *near-valid*: the right method for a known route, every layer's header
    valid and single (one kind of credential), and exactly one header given a drawn mutation. They
    reach the app often enough for the bypass checks to mean something. The rest are fully hostile.
    """
    bits = draw(_BITS)
    near_valid = (bits >> 20) % 5 < 2
    path = draw(st.sampled_from(ROUTES)) if near_valid else draw(_PATH)
    method = ("POST" if path in POST_ROUTES else "GET") if near_valid else draw(_METHOD)
    body = draw(_BODY)
    if path == ACTION_PATH and (near_valid or bits & 1):
        body = BODIES[1]
    names = [(spec, name) for spec in layers for name in sorted(set(spec.valid) | set(spec.hostile))]
    mutated = (bits >> 22) % max(len(names), 1)
    credential = CREDENTIALS[(bits >> 24) & 1]
    headers: list[tuple[bytes, bytes]] = []
    for index, (spec, name) in enumerate(names):
        valid = spec.valid[name](body) if name in spec.valid else []
        plan = draw(_PLAN)
        if near_valid and index != mutated:
            if not valid or (name in CREDENTIALS and name != credential):
                continue
            plan = (1, plan[1], plan[2])
        headers += [(name, value) for value in header_values(plan, valid, spec.hostile.get(name, []))]
    if not near_valid:
        for index, (name, choices) in enumerate(OTHER_HEADERS.items()):
            if bits >> (index + 1) & 1:
                headers.append((name, choices[(bits >> 12) % len(choices)]))
        headers += draw(_EXTRA)
    if bits >> 10 & 1:
        headers.append((b"content-length", str(len(body)).encode()))
    random.Random(bits).shuffle(headers)
    if not near_valid and bits >> 28 & 7 == 0:  # a raw ASGI caller need not lower-case names
        headers = [(name.upper(), value) for name, value in headers]
    chunks = split(body, draw(_CUTS))
    disconnect = draw(_DISCONNECT)
    disconnect_after = None if disconnect is None else min(disconnect, len(chunks))
    return HostileRequest(method, path, headers, chunks, disconnect_after, draw(_QUERY))


__all__ = ("BODIES", "GENERIC_HOSTILE", "HostileRequest", "header_values", "hostile_requests", "split")
