"""Revocation propagation between two store instances, on standalone Redis and on a 3-master Cluster.

``python -m bench load revocation [--rounds N]`` starts its own redis-server processes
(tests/redis_servers.py), runs two :class:`~asgi_guard.auth.RedisRevocationStore` instances, each
with its own client, revokes ``N`` ids through the first and measures, for each, the time until the
second refuses it (its in-memory mirror, polled every 0.2 ms). It prints the median, p95 and max
per deployment; the design target is under 100 ms. Tests assert the behaviour with bounded waits;
this script gives the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from asgi_guard.auth import RedisRevocationStore
from tests.redis_servers import RedisCluster, RedisServer


async def _propagation(first: Any, second: Any, rounds: int) -> list[float]:
    a, b = RedisRevocationStore(first), RedisRevocationStore(second)
    await a.start(timeout=10)
    await b.start(timeout=10)
    if not (a.healthy and b.healthy):
        raise RuntimeError("the revocation feed did not come up")
    seconds: list[float] = []
    try:
        for index in range(rounds):
            token_id = f"bench-{time.monotonic_ns()}-{index}"
            start = time.perf_counter()
            await a.revoke(token_id, time.time() + 3600)
            while not await b.is_revoked([token_id]):
                await asyncio.sleep(0.0002)
                if time.perf_counter() - start > 5:
                    raise RuntimeError(f"{token_id} did not propagate within 5 s")
            seconds.append(time.perf_counter() - start)
    finally:
        await a.aclose()
        await b.aclose()
    return seconds


def _row(name: str, seconds: list[float]) -> str:
    ms = sorted(value * 1000 for value in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"| {name} | {len(ms)} | {statistics.median(ms):.2f} | {p95:.2f} | {ms[-1]:.2f} |"


async def main(rounds: int) -> None:
    server = RedisServer().start()
    cluster = RedisCluster().start()
    try:
        standalone = [aioredis.Redis.from_url(server.url) for _ in range(2)]
        clustered = [AsyncRedisCluster.from_url(cluster.url) for _ in range(2)]
        for client in clustered:
            await client.initialize()
        rows = [
            _row("standalone Redis (PUBLISH/SUBSCRIBE)", await _propagation(*standalone, rounds)),
            _row("3-master Cluster (SPUBLISH/SSUBSCRIBE)", await _propagation(*clustered, rounds)),
        ]
        for client in (*standalone, *clustered):
            await client.aclose()
    finally:
        server.stop()
        cluster.stop()
    print("| deployment | revocations | median ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
