"""Why the targets are where they are: the floor of each piece the full stack pays, and what is left.

Two tables, one process, every row measured in interleaved rounds (medians), so load on the machine
hits every row alike:

* **Pieces**: each thing a request through the full stack must do, measured alone at its floor
  (the cheapest way the standard library or the dependency does it) beside what asgi_guard pays for
  it: one pure-ASGI layer, one security log line through a real file handler, a cached JWT, a
  rate-limit check, one Redis round trip.
* **Steps**: the full stack of ``python -m bench`` (events at INFO to a file, headers, JWT, community,
  RBAC, token bucket on memory) built up one layer at a time: what each layer adds per request.

Run: ``python -m bench profile floors`` (``--repeats N``, ``--write`` to put the tables in
bench/RESULTS.md, section ``floors``). Needs ``redis-server`` for the Redis rows (a throwaway one on
a free loopback port). ``--instructions`` adds the steps in CPU instructions per request, counted by
``valgrind --tool=callgrind``: unlike time, the same on a busy or a quiet machine (a few minutes).
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jwt
import uvloop

from asgi_guard import guard
from asgi_guard.auth.verifier import JWTVerifier
from asgi_guard.context import GuardContext
from asgi_guard.events import LoggingSink, SecurityEvent, emit
from asgi_guard.ratelimit import MemoryRateLimitBackend, RedisRateLimitBackend
from asgi_guard.ratelimit.gcra import Check
from asgi_guard.ratelimit.script import SCRIPT, ScriptCall
from asgi_guard.testing import make_scope
from bench.harness.apps import JWT_SECRET, bare_app, default_request, make_token
from bench.harness.report import machine, replace_section
from bench.stacks import guard_layers
from bench.stacks.baselines import FLOOR_SCRIPT

LOGGER = "asgi_guard.security"
Op = Callable[[], Any]
AsyncOp = Callable[[], Awaitable[Any]]


class Layer:
    """The cheapest pure-ASGI middleware there is: the type test every layer makes, then the app."""

    __slots__ = ("app",)

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _request_op(app: Any) -> AsyncOp:
    request = default_request()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise AssertionError(f"status {message['status']}")

    async def op() -> None:
        await app(request.scope(), receive, send)

    return op


def _file_logger(folder: str) -> logging.Logger:
    """``asgi_guard.security`` at INFO into a JSON-lines file, as the bench's full stack logs."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.FileHandler(Path(folder) / "security.jsonl")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


async def _timed(op: Op | AsyncOp, count: int, is_async: bool) -> float:
    start = time.perf_counter()
    if is_async:
        for _ in range(count):
            await op()
    else:
        for _ in range(count):
            op()
    return (time.perf_counter() - start) / count * 1e6


async def _rounds(rows: dict[str, tuple[Op | AsyncOp, bool, int]], repeats: int) -> dict[str, float]:
    """Median µs per operation of each row, rows interleaved round by round (start rotating)."""
    for op, is_async, count in rows.values():
        await _timed(op, max(count // 10, 10), is_async)
    samples: dict[str, list[float]] = {name: [] for name in rows}
    names = list(rows)
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            op, is_async, count = rows[name]
            samples[name].append(await _timed(op, count, is_async))
    return {name: statistics.median(values) for name, values in samples.items()}


def _event_rows(folder: str) -> dict[str, tuple[Op | AsyncOp, bool, int]]:
    logger = _file_logger(folder)
    handler = logger.handlers[0]
    event = SecurityEvent(
        type="authn_success",
        result="allow",
        time=time.time(),
        request_id="0123456789abcdef0123456789abcdef",
        principal_id="user-1",
        action="GET /api/v1/profile",
        client_ip="127.0.0.1",
        user_agent="bench/1.0",
        reason="jwt",
    )
    sink = LoggingSink(logger)
    line = sink._encode(event).decode()
    record = logging.LogRecord(LOGGER, logging.INFO, __file__, 1, line, (), None)
    handoff: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    queue_handler = logging.handlers.QueueHandler(handoff)

    def queued() -> None:
        queue_handler.handle(record)
        handoff.get_nowait()  # the listener thread's side, kept out of the row (only the handoff counts)

    scope = make_scope(headers={"user-agent": "bench/1.0"})
    ctx = GuardContext.from_scope(scope)
    ctx.request_id = "0123456789abcdef0123456789abcdef"

    def emitted() -> None:
        ctx.events.clear()
        emit(scope, "authn_success", "allow", "jwt")

    count = 20_000
    return {
        "log line: FileHandler.handle(record), the stdlib floor": (lambda: handler.handle(record), False, count),
        "log line: QueueHandler.handle(record), the request side": (queued, False, count),
        "log line: logger.info(line), record built by logging": (lambda: logger.info(line), False, count),
        "log line: asgi_guard LoggingSink(event)": (lambda: sink(event), False, count),
        "event: emit() from the request context, sink included": (emitted, False, count),
        "event: msgspec JSON of one event": (lambda: sink._encode(event), False, count),
    }


def _auth_rows() -> dict[str, tuple[Op | AsyncOp, bool, int]]:
    token = make_token()
    auth = guard_layers.jwt_auth_layer()
    verifier = JWTVerifier(auth.jwt.keyring, issuer=None, audience=None, leeway=0, cache_size=1000)
    verifier.verify(token, "access")
    options = {"require": ["exp", "iat", "sub"]}

    def pyjwt() -> None:
        jwt.decode(token, JWT_SECRET, algorithms=["HS256"], options=options)

    backend = MemoryRateLimitBackend()
    check = Check("bench:{u1}:user", 60, 1_000_000_000, 1, True)
    return {
        "JWT: PyJWT decode + HS256 verify, every request": (pyjwt, False, 5_000),
        "JWT: asgi_guard verifier, cache hit": (lambda: verifier.verify(token, "access"), False, 20_000),
        "rate limit: memory GCRA check of one limit": (lambda: backend.check_one_now(check), False, 20_000),
    }


async def _redis_rows(url: str) -> tuple[dict[str, tuple[Op | AsyncOp, bool, int]], Callable[[], Awaitable[None]]]:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    floor_sha = await client.script_load(FLOOR_SCRIPT)
    bucket_sha = await client.script_load(SCRIPT)
    backend = RedisRateLimitBackend(Redis.from_url(url))
    await backend.warm()
    check = Check("bench:{u1}:user", 60, 1_000_000_000, 1, True)
    bucket_args = ScriptCall((check,), (0,)).arguments("c")

    async def floor() -> None:
        await client.evalsha(floor_sha, 1, "bench:floor:{127.0.0.1}", 60_000)

    async def bucket() -> None:
        await client.evalsha(bucket_sha, *bucket_args)  # type: ignore[arg-type]

    async def ours() -> None:
        await backend.check_within((check,), 1.0)

    async def close() -> None:
        await client.aclose()
        await backend.aclose()
        await backend.client.aclose()

    count = 2_000
    return {
        "Redis: raw redis-py EVALSHA of the floor's INCR script": (floor, True, count),
        "Redis: raw redis-py EVALSHA of bucket.lua (one limit)": (bucket, True, count),
        "Redis: asgi_guard backend check (bucket.lua, budget, deny cache)": (ours, True, count),
    }, close


PASS_THROUGH = "bare + 6 pass-through pure-ASGI layers"


def _stacks() -> dict[str, Any]:
    """The full stack of ``python -m bench`` built up one layer at a time (events at INFO to a file),
    after the bare app and the bare app behind six pass-through layers."""
    limiter, _ = guard_layers.rate_limit_layer(None, prefix="bench-floors")
    layers = [
        ("+ events (INFO to a file)", guard_layers.events_layer()),
        ("+ security headers", guard_layers.security_headers_layer()),
        ("+ JWT (cached; its authn_success line is the first event written)", guard_layers.jwt_auth_layer()),
        ("+ community", guard_layers.tenancy_layer()),
        ("+ RBAC", guard_layers.rbac_layer()),
        ("+ token bucket (memory)", limiter),
    ]
    stacks: dict[str, Any] = {"bare Starlette": bare_app()}
    app: Any = bare_app()
    for _ in range(6):
        app = Layer(app)
    stacks[PASS_THROUGH] = app
    for index, (name, _) in enumerate(layers):
        stacks[name] = guard(bare_app(), *(config for _, config in layers[: index + 1]))
    return stacks


def _stack_rows() -> dict[str, tuple[Op | AsyncOp, bool, int]]:
    return {name: (_request_op(app), True, 5_000) for name, app in _stacks().items()}


async def _drive(index: int, requests: int, folder: str) -> None:
    """``requests`` requests (after a warm-up) through step ``index``: what one callgrind run counts."""
    _file_logger(folder)
    app = list(_stacks().values())[index]
    op = _request_op(app)
    for _ in range(500 + requests):
        await op()


def _instructions(index: int, requests: int) -> int:
    """Instructions of a whole run of :func:`_drive` under callgrind."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.profiling.floors",
        "--drive",
        f"{index}:{requests}",
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total: {out.stderr[-500:]}")
    return int(found.group(1))


def instruction_steps(requests: int = 2_000) -> list[str]:
    """Instructions per request of each step: two runs per step (none and ``requests`` requests after
    the same start), so start-up cancels out. Steps run two at a time (one per core)."""
    from concurrent.futures import ThreadPoolExecutor

    names = list(_stacks())
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        empty = list(pool.map(lambda index: _instructions(index, 0), range(len(names))))
        full = list(pool.map(lambda index: _instructions(index, requests), range(len(names))))
    per = {name: (after - before) / requests for name, before, after in zip(names, empty, full, strict=True)}
    bare = per["bare Starlette"]
    lines = []
    previous = bare
    for name, value in per.items():
        if name == PASS_THROUGH:
            lines.append(f"| {name} | {value:,.0f} ({value / bare:.2f}x bare) | {(value - bare) / 6:+,.0f} per layer |")
            continue
        step = value - previous if name != "bare Starlette" else 0.0
        lines.append(f"| {name} | {value:,.0f} ({value / bare:.2f}x bare) | {step:+,.0f} |")
        previous = value
    return _table(
        f"Steps in CPU instructions per request (callgrind, {requests:,} requests per step: repeatable)",
        "| stack | instructions/req | step |",
        lines,
    )


def _why(stacks: dict[str, float], pieces: dict[str, float], layer: float) -> list[str]:
    """The targets' arithmetic with this run's figures: what each target leaves, and what is paid."""
    bare = stacks["bare Starlette"]
    full = list(stacks.values())[-1]
    line = pieces["log line: FileHandler.handle(record), the stdlib floor"]
    event = pieces["event: emit() from the request context, sink included"]
    lines = [
        "### What the targets leave, with this run's figures",
        "",
        f"- **Memory, ≤ 2.5x bare**: bare is {bare:.1f} µs, so the six layers may add {1.5 * bare:.1f} µs. "
        f"They add {full - bare:.1f} µs ({full / bare:.2f}x). Of that, the one security line each successful "
        f"request writes costs {event:.1f} µs end to end, {line:.1f} µs of it in the standard library's "
        f"FileHandler alone (its floor: lock, format, write, flush); six pure-ASGI frames cost {6 * layer:.1f} µs.",
    ]
    floor_rtt = pieces.get("Redis: raw redis-py EVALSHA of the floor's INCR script")
    bucket = pieces.get("Redis: raw redis-py EVALSHA of bucket.lua (one limit)")
    ours = pieces.get("Redis: asgi_guard backend check (bucket.lua, budget, deny cache)")
    if floor_rtt is not None and bucket is not None and ours is not None:
        floor = bare + floor_rtt
        lines.append(
            f"- **Redis, ≤ 1.15x the floor**: the floor (bare + one raw EVALSHA) is {floor:.1f} µs, so "
            f"everything else may add {0.15 * floor:.1f} µs. The six layers alone add {full - bare:.1f} µs "
            f"on memory; the GCRA script costs {bucket - floor_rtt:+.1f} µs over the floor's INCR script "
            f"(server time and a 6-integer reply), and our client path (time budget, deny cache, parsing) "
            f"{ours - bucket:+.1f} µs over a raw EVALSHA of the same script."
        )
    return [*lines, ""]


def _table(title: str, header: str, lines: list[str]) -> list[str]:
    return [f"### {title}", "", header, "|---|---:|---:|", *lines, ""]


async def measure(repeats: int, redis_url: str | None) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="asgi-guard-floors-") as folder:
        pieces = _event_rows(folder) | _auth_rows()
        close = None
        if redis_url is not None:
            redis_rows, close = await _redis_rows(redis_url)
            pieces |= redis_rows
        stacks = _stack_rows()
        try:
            piece_times = await _rounds(pieces, repeats)
            stack_times = await _rounds(stacks, repeats)
        finally:
            if close is not None:
                await close()
            logging.getLogger(LOGGER).handlers[0].close()
    bare = stack_times["bare Starlette"]
    layer_cost = (stack_times[PASS_THROUGH] - bare) / 6
    piece_lines = [f"| {name} | {value:.2f} | {value / bare:.2f} |" for name, value in piece_times.items()]
    piece_lines.insert(
        0, f"| one pure-ASGI layer (6 pass-through layers, per layer) | {layer_cost:.2f} | {layer_cost / bare:.2f} |"
    )
    step_lines = []
    previous = bare
    for name, value in stack_times.items():
        if name == PASS_THROUGH:
            continue
        step = value - previous if name != "bare Starlette" else 0.0
        step_lines.append(f"| {name} | {value:.1f} ({value / bare:.2f}x bare) | {step:+.1f} |")
        previous = value
    return [
        *_why(stack_times, piece_times, layer_cost),
        *_table(
            "Pieces: each at its floor, beside what asgi_guard pays (µs per operation)",
            "| piece | µs | x one bare request |",
            piece_lines,
        ),
        *_table(
            "Steps: the full stack built up one layer at a time (µs per request, in-process, c=1)",
            "| stack | µs/req | step |",
            step_lines,
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-redis", action="store_true", help="leave out the Redis rows")
    parser.add_argument("--instructions", action="store_true", help="add the steps in instructions (callgrind)")
    parser.add_argument("--write", action="store_true", help="put the tables in bench/RESULTS.md (section floors)")
    parser.add_argument("--drive", metavar="STEP:REQUESTS", help=argparse.SUPPRESS)  # one callgrind run
    args = parser.parse_args(argv)
    if args.drive:
        index, requests = (int(part) for part in args.drive.split(":"))
        with tempfile.TemporaryDirectory(prefix="asgi-guard-floors-") as folder:
            uvloop.run(_drive(index, requests, folder))
        return
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    server = None
    if not args.no_redis:
        from tests.redis_servers import RedisServer

        server = RedisServer().start()
    try:
        lines = uvloop.run(measure(args.repeats, server.url if server is not None else None))
    finally:
        if server is not None:
            server.stop()
    if args.instructions:
        lines += instruction_steps()
    text = "\n".join(lines)
    print(text)
    if args.write:
        body = "\n".join(["## Floors and steps (`python -m bench profile floors`)", "", *machine(), "", text])
        replace_section("floors", body)


if __name__ == "__main__":
    main()
