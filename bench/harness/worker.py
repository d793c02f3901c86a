"""One stack in its own process: built once, then measured on command.

``python -m bench.harness.worker NAME`` builds the stack (``BENCH_REDIS_URL`` in the environment), checks
that the standard request really reaches the app (status 200), then answers JSON-line commands on
stdin: ``measure`` (``n`` requests at concurrency ``c``), ``calibrate`` and ``redis`` (commands and
round trips per request). One process per stack keeps peers' globals (slowapi's limiter,
fastapi-limiter 0.1's class attributes, a side-installed package version) apart, and lets the
controller round-robin so drift hits every stack alike.

The request is driven the way a server drives it: a fresh scope per request, the body messages,
then a ``receive`` that blocks until the response is complete before reporting ``http.disconnect``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import json
import os
import sys
import time
from collections import Counter
from typing import IO, TYPE_CHECKING, Any

from bench.harness.registry import Built, StackEnv, all_stacks

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from bench.harness.apps import RequestSpec

DISTRIBUTIONS = (
    "starlette",
    "fastapi",
    "pyjwt",
    "redis",
    "hiredis",
    "msgspec",
    "slowapi",
    "limits",
    "fastapi-limiter",
    "pyrate-limiter",
    "asgi-ratelimit",
    "uvicorn",
    "uvloop",
    "httptools",
)


def versions() -> dict[str, str]:
    out = {}
    for dist in DISTRIBUTIONS:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "-"
    return out


def loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is part of uvicorn[standard]
        return asyncio.new_event_loop
    return uvloop.new_event_loop


class Driver:
    """Sends the stack's request ``n`` times and counts the statuses."""

    def __init__(self, built: Built) -> None:
        self.app = built.app
        self.spec: RequestSpec = built.request
        chunks = self.spec.body
        self.messages = [
            {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
            for index, chunk in enumerate(chunks)
        ]
        self.statuses: Counter[int] = Counter()

    async def one(self) -> None:
        messages = self.messages
        pending = len(messages)
        done = asyncio.Event()
        statuses = self.statuses

        async def receive() -> dict[str, Any]:
            nonlocal pending
            if pending:
                pending -= 1
                return dict(messages[len(messages) - pending - 1])
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                statuses[message["status"]] += 1
            elif kind == "http.response.body" and not message.get("more_body", False):
                done.set()

        await self.app(self.spec.scope(), receive, send)
        done.set()

    async def batch(self, n: int, concurrency: int) -> int:
        """Run ``n`` requests (``concurrency`` at a time); return the elapsed nanoseconds."""
        one = self.one
        if concurrency <= 1:
            started = time.perf_counter_ns()
            for _ in range(n):
                await one()
            return time.perf_counter_ns() - started
        per_task = max(1, n // concurrency)

        async def lane() -> None:
            for _ in range(per_task):
                await one()

        started = time.perf_counter_ns()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return time.perf_counter_ns() - started


def done_count(n: int, concurrency: int) -> int:
    """How many requests :meth:`Driver.batch` really sent."""
    return n if concurrency <= 1 else max(1, n // concurrency) * concurrency


def _reply(out: IO[str], payload: dict[str, Any]) -> None:
    out.write(json.dumps(payload) + "\n")
    out.flush()


def serve(name: str, out: IO[str]) -> None:
    stacks = all_stacks()
    stack = stacks[name]
    for path in reversed(stack.extra_path):
        sys.path.insert(0, path)
    env = StackEnv(redis_url=os.environ.get("BENCH_REDIS_URL") or None, cluster=bool(os.environ.get("BENCH_CLUSTER")))
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        try:
            built = runner.run(stack.build(env))
            driver = Driver(built)
            runner.run(driver.batch(3, 1))
            driver.statuses.clear()
            runner.run(driver.batch(3, 1))
            if set(driver.statuses) != {built.expect}:
                raise RuntimeError(f"the stack's request got {dict(driver.statuses)}, expected only {built.expect}")
        except Exception as exc:
            _reply(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            return
        _reply(out, {"ok": True, "layers": list(built.layers), "versions": versions()})
        try:
            for line in sys.stdin:
                command = json.loads(line)
                kind = command["cmd"]
                if kind == "quit":
                    break
                if kind == "calibrate":
                    c = command["c"]
                    n = max(c, 8)
                    while True:
                        elapsed = runner.run(driver.batch(n, c))
                        if elapsed >= 20_000_000 or n >= 1_000_000:
                            break
                        n *= 2
                    per_request = elapsed / done_count(n, c)
                    _reply(out, {"n": max(c, int(command["seconds"] * 1e9 / per_request))})
                elif kind == "measure":
                    driver.statuses.clear()
                    gc.collect()
                    n, c = command["n"], command["c"]
                    elapsed = runner.run(driver.batch(n, c))
                    statuses = {str(k): v for k, v in driver.statuses.items()}
                    _reply(out, {"ns": elapsed / done_count(n, c), "statuses": statuses})
                elif kind == "redis":
                    _reply(out, runner.run(redis_counts(driver, env, command["n"], command["sample"])))
        finally:
            if built.close is not None:
                runner.run(_await(built.close()))


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable


async def redis_counts(driver: Driver, env: StackEnv, n: int, sample: int) -> dict[str, Any]:
    import redis

    from bench.harness.redis_count import Monitor, delta, snapshot, split_sample

    assert env.redis_url is not None
    with redis.Redis.from_url(env.redis_url) as client:
        before = snapshot(client)
        await driver.batch(n, 1)
        counts = delta(before, snapshot(client), n)
    monitor = Monitor(env.redis_url)
    await driver.batch(sample, 1)
    client, script, detail = split_sample(monitor.stop(), sample)
    counts.client_commands, counts.script_commands = client, script
    return counts.as_dict() | {"monitor": detail}


def main() -> None:
    # The protocol owns the real stdout; anything a stack prints goes to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    serve(sys.argv[1], out)


if __name__ == "__main__":
    main()
