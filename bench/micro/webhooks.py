"""µs per webhook verification through WebhookMiddleware, next to the bare primitive's cost.

Run: ``python -m bench.micro.webhooks`` (from the repository root). In-process, no server: each
request drives ``middleware(scope, receive, send)`` with a prebuilt scope and a 1 KiB body, against
a bare ASGI app; replay dedupe is off (plain HMAC; Discord with ``tolerance=None``) so every
iteration verifies. Medians of several repeats.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nacl.signing import SigningKey

from asgi_guard.webhooks import (
    DiscordInteractions,
    GenericHMAC,
    WebhookConfig,
    WebhookMiddleware,
    discord_public_key,
    sign_discord,
    sign_generic,
)

BODY = os.urandom(1024)
SECRET = "bench-secret-0123456789"
PRIVATE = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
ROUNDS, REPEATS = 4000, 7


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def scope_for(headers: dict[str, str]) -> dict[str, Any]:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return {
        "type": "http",
        "method": "POST",
        "path": "/hook",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 1),
    }


async def per_request(app: Any, headers: dict[str, str]) -> float:
    """Median µs per request of ``app`` (a fresh scope copy each time: the context lives in the scope)."""
    template = scope_for(headers)
    message = {"type": "http.request", "body": BODY, "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return message

    async def send(sent: dict[str, Any]) -> None:
        if sent["type"] == "http.response.start":
            statuses.append(sent["status"])

    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(ROUNDS):
            await app(dict(template), receive, send)
        samples.append((time.perf_counter() - start) / ROUNDS * 1e6)
    assert set(statuses) == {200}, set(statuses)
    return statistics.median(samples)


def primitive(fn: Any) -> float:
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(ROUNDS):
            fn()
        samples.append((time.perf_counter() - start) / ROUNDS * 1e6)
    return statistics.median(samples)


async def main() -> None:
    key = SECRET.encode()
    signature = bytes.fromhex(sign_generic(SECRET, BODY)["X-Webhook-Signature"][7:])
    signing = SigningKey(bytes.fromhex(PRIVATE))
    signed = signing.sign(b"1700000000" + BODY)
    verify_key = signing.verify_key

    def hmac_primitive() -> None:
        hmac.compare_digest(hmac.new(key, BODY, hashlib.sha256).digest(), signature)

    def ed25519_primitive() -> None:
        verify_key.verify(signed.message, signed.signature)

    hmac_mw = WebhookMiddleware(bare_app, WebhookConfig(routes={"/hook": GenericHMAC(secrets=[SECRET])}))
    discord = DiscordInteractions(public_keys=[discord_public_key(PRIVATE)], tolerance=None, answer_ping=False)
    ed_mw = WebhookMiddleware(bare_app, WebhookConfig(routes={"/hook": discord}))

    bare = await per_request(bare_app, {})
    rows = [
        ("bare app (reads the 1 KiB body)", bare, None),
        ("HMAC-SHA256 primitive (hmac.new + compare_digest)", primitive(hmac_primitive), None),
        ("GenericHMAC through WebhookMiddleware", await per_request(hmac_mw, sign_generic(SECRET, BODY)), bare),
        ("Ed25519 primitive (PyNaCl VerifyKey.verify)", primitive(ed25519_primitive), None),
        (
            "DiscordInteractions through WebhookMiddleware",
            await per_request(ed_mw, sign_discord(PRIVATE, BODY, 1_700_000_000)),
            bare,
        ),
    ]
    print(f"webhook verification, 1 KiB body, median of {REPEATS} x {ROUNDS} (Python {sys.version.split()[0]})")
    for name, micros, baseline in rows:
        extra = f"  (+{micros - baseline:.1f} µs over bare)" if baseline is not None else ""
        print(f"  {name:<52} {micros:7.1f} µs{extra}")


if __name__ == "__main__":
    asyncio.run(main())
