"""API-key auth on the SQL store, in-process, next to the memory store; and cross-process revocation latency.

Prints µs per authenticated request through ``AuthenticationMiddleware`` (median of rounds) for the
memory store, the SQL store with its cache (SQLite, PostgreSQL) and the SQL store with the cache off
(every request a query: the cache-miss cost); then how long a key revoked in this process takes to be
refused by a second process on the same PostgreSQL (LISTEN/NOTIFY) or SQLite file (polled), over
repeated trials.

PostgreSQL: a throwaway database on 127.0.0.1:5432 (created and dropped here); SQLite: a temp file.
Run: ``python -m bench.micro.sql`` from the repository root (the ``sql`` extra installed).
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from asgi_guard.auth import APIKeyAuth, APIKeyRecord, AuthConfig, AuthenticationMiddleware, MemoryAPIKeyStore
from asgi_guard.auth.api_keys import create_api_key, hash_api_key
from asgi_guard.sql import SQLAPIKeyStore, SQLDatabase, upgrade
from asgi_guard.testing import make_scope

if TYPE_CHECKING:
    from asgi_guard.types import Message, Receive, Scope, Send

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ROUNDS, CACHED, MISSES, TRIALS = 5, 2000, 300, 30


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def per_request_us(asgi: Any, key: str, n: int) -> float:
    """Median over rounds of the mean µs per request (a fresh scope each, as a server builds)."""
    base = make_scope(headers={"x-api-key": key})
    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(50):
        await asgi(dict(base), _receive, send)
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(n):
            await asgi(dict(base), _receive, send)
        rounds.append((time.perf_counter() - start) / n * 1e6)
    assert set(statuses) == {200}, f"unexpected statuses {set(statuses)}"
    return statistics.median(rounds)


def middleware(store: Any) -> AuthenticationMiddleware:
    return AuthenticationMiddleware(app, AuthConfig(api_key=APIKeyAuth(store=store, last_used_interval=0)))


async def sql_rows(url: str, key: str) -> dict[str, float]:
    db = SQLDatabase(url)
    try:
        await upgrade(db)
        name = "PostgreSQL" if db.is_postgres else "SQLite"
        await SQLAPIKeyStore(db).put(APIKeyRecord(key_hash=hash_api_key(key), owner_id="o"))
        cached = SQLAPIKeyStore(db)
        await cached.start()
        return {
            f"API key, {name} store, cached": await per_request_us(middleware(cached), key, CACHED),
            f"API key, {name} store, cache off (a query per request)": await per_request_us(
                middleware(SQLAPIKeyStore(db, cache_ttl=0)), key, MISSES
            ),
        }
    finally:
        await db.aclose()


WATCHER = """
import asyncio, sys, time
from asgi_guard.sql import SQLAPIKeyStore, SQLDatabase
async def main(url):
    db = SQLDatabase(url)
    store = SQLAPIKeyStore(db)
    await store.start()
    loop = asyncio.get_running_loop()
    while True:
        key_hash = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if not key_hash:
            break
        assert not (await store.get(key_hash)).revoked   # cached from now on
        print("ready", flush=True)
        while not (await store.get(key_hash)).revoked:
            await asyncio.sleep(0.0005)
        print(repr(time.time()), flush=True)
    await db.aclose()
asyncio.run(main(sys.argv[1]))
"""


async def revocation_latency_ms(url: str) -> list[float]:
    """Milliseconds from the start of ``revoke()`` here to the other process seeing the key revoked."""
    db = SQLDatabase(url)
    store = SQLAPIKeyStore(db)
    other = subprocess.Popen(
        [sys.executable, "-c", WATCHER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert other.stdin is not None
    assert other.stdout is not None
    samples = []
    try:
        for _ in range(TRIALS):
            key_hash = hash_api_key(create_api_key())
            await store.put(APIKeyRecord(key_hash=key_hash, owner_id="o"))
            other.stdin.write(key_hash + "\n")
            other.stdin.flush()
            assert other.stdout.readline().strip() == "ready"
            await asyncio.sleep(0.02)
            began = time.time()
            await store.revoke(key_hash)
            seen = float(await asyncio.to_thread(other.stdout.readline))
            samples.append((seen - began) * 1000)
        other.stdin.close()
        other.wait(timeout=20)
    finally:
        other.kill()
        await db.aclose()
    return samples


async def main() -> None:
    key = create_api_key()
    results = {
        "API key, memory store": await per_request_us(
            middleware(MemoryAPIKeyStore([APIKeyRecord(key_hash=hash_api_key(key), owner_id="o")])), key, CACHED
        )
    }
    name = f"asgi_guard_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        latencies: dict[str, list[float]] = {}
        with tempfile.TemporaryDirectory() as folder:
            sqlite_url = f"sqlite:///{Path(folder) / 'bench.db'}"
            results.update(await sql_rows(sqlite_url, key))
            latencies["SQLite file, data_version polled every 50 ms"] = await revocation_latency_ms(sqlite_url)
        pg_url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        results.update(await sql_rows(pg_url, key))
        latencies["PostgreSQL LISTEN/NOTIFY"] = await revocation_latency_ms(pg_url)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
    width = max(len(row) for row in results)
    print(f"asgi_guard API-key auth, in-process, median of {ROUNDS} rounds")
    for row, value in results.items():
        print(f"  {row:<{width}}  {value:8.1f} µs/request")
    for how, latency in latencies.items():
        latency.sort()
        p95 = latency[int(0.95 * (len(latency) - 1))]
        print(
            f"key revocation seen by another process ({how}), {len(latency)} trials: "
            f"median {statistics.median(latency):.1f} ms, p95 {p95:.1f} ms, max {latency[-1]:.1f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
