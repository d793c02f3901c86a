"""``python -m bench``: run the benchmarks and write bench/RESULTS.md.

Examples::

    python -m bench                      # everything: in-process, Redis counts, server (~10 min)
    python -m bench --quick              # a smoke run: short batches, 2 rounds, 1 s wrk runs
    python -m bench --only inproc --stack floor --stack "asgi_guard full"   # name filters (substrings)
    python -m bench --list               # the registered stacks

Redis comes from a throwaway ``redis-server`` on a free loopback port (tests/redis_servers.py), never
127.0.0.1:6379. Not part of CI: numbers from a shared machine are noise; run it on a quiet one.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time

from bench.harness import inproc, report, server
from bench.harness.registry import Stack, all_stacks
from bench.stacks.peers import SIDE_DIR, side_install


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench run", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="inproc,server", help="comma list of: inproc, server (default both)")
    parser.add_argument(
        "--stack",
        action="append",
        default=[],
        help="run only stacks whose name contains this (repeatable; the bare app is always added)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="rounds per measurement (median over rounds)")
    parser.add_argument("--seconds", type=float, default=0.3, help="in-process batch length per stack and round")
    parser.add_argument("--concurrency", default="1,50", help="in-process concurrency levels")
    parser.add_argument("--duration", default="5s", help="wrk -d per stack and round")
    parser.add_argument("--connections", type=int, default=50, help="wrk -c")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t")
    parser.add_argument("--no-redis", action="store_true", help="skip every stack that needs Redis")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds, short batches, 1 s wrk")
    parser.add_argument("--no-write", action="store_true", help="print the report instead of writing RESULTS.md")
    parser.add_argument("--list", action="store_true", help="list the stacks and exit")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.seconds, args.duration = 2, 0.05, "1s"
    return args


NOT_BENCHMARKS = frozenset({"asgi_guard exact limit (redis)"})
"""Stacks registered for the load/fault script only."""


def select(args: argparse.Namespace) -> list[Stack]:
    wanted = [part for part in args.stack if part]
    stacks = [
        stack
        for stack in all_stacks().values()
        if (not wanted or any(part in stack.name for part in wanted))
        and not (args.no_redis and stack.redis)
        and stack.name not in NOT_BENCHMARKS
    ]
    if wanted and not any(stack.name == inproc.BASELINE for stack in stacks):
        stacks.insert(0, all_stacks()[inproc.BASELINE])  # every ratio needs the bare app of the same run
    return stacks


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for stack in all_stacks().values():
            print(f"{stack.group:10} {'redis ' if stack.redis else '      '}{stack.name}")
        return 0
    stacks = select(args)
    parts = {part.strip() for part in args.only.split(",")}
    concurrencies = tuple(int(c) for c in args.concurrency.split(","))
    if any(SIDE_DIR.as_posix() in stack.extra_path for stack in stacks):
        side_install()

    lines = [*report.TITLE.splitlines(), "", "## Run", "", *report.machine()]
    if args.quick:
        lines.append("- **smoke run (--quick)**: short batches on a possibly busy machine; the numbers are not results")
    lines.append("")
    redis = None
    if any(stack.redis for stack in stacks):
        from tests.redis_servers import RedisServer

        redis = RedisServer().start()
    redis_url = redis.url if redis is not None else None
    started = time.monotonic()
    inproc_results: dict[str, inproc.StackResult] = {}
    server_results: dict[str, server.ServerResult] = {}
    try:
        if "inproc" in parts:
            print(f"in-process: {len(stacks)} stacks, {args.repeats} rounds, {args.seconds}s batches")
            inproc_results = inproc.run(
                stacks, redis_url=redis_url, repeats=args.repeats, seconds=args.seconds, concurrencies=concurrencies
            )
        if "server" in parts:
            stacks = [stack for stack in stacks if stack.server]
            if inproc_results:  # a stack that could not be built in process will not serve either
                stacks = [stack for stack in stacks if inproc_results[stack.name].error is None]
            if shutil.which("wrk") is None:
                print("server: skipped, wrk not installed (apt-get install wrk)")
            else:
                rounds = f"{args.repeats} rounds of wrk -d{args.duration} -c{args.connections}"
                print(f"server: {len(stacks)} stacks, {rounds}")
                server_results = server.run(
                    stacks,
                    redis_url=redis_url,
                    repeats=args.repeats,
                    duration=args.duration,
                    connections=args.connections,
                    threads=args.threads,
                )
    finally:
        if redis is not None:
            redis.stop()

    lines += [f"- wall time of this run: {time.monotonic() - started:.0f} s", ""]
    if inproc_results:
        lines += [
            "## In-process (µs per request, median over rounds; x bare = median of per-round ratios)",
            "",
            "Driven as `app(scope, receive, send)` with a fresh scope per request, one process per stack,",
            f"uvloop, {args.repeats} rounds of ~{args.seconds}s per stack and concurrency level.",
            "",
            *report.inproc_table(inproc_results, concurrencies),
            "",
        ]
        if any(result.redis for result in inproc_results.values()):
            lines += ["## Redis work per request (in-process, sequential)", "", *report.redis_table(inproc_results), ""]
        if missing := report.unavailable(inproc_results):
            lines += ["## Not available in this run", "", *missing, ""]
        lines += ["## Versions", "", *report.versions_table(inproc_results), ""]
    if server_results:
        lines += [
            f"## Server (uvicorn httptools+uvloop, 1 worker; wrk -d{args.duration} -c{args.connections} "
            f"-t{args.threads}, {args.repeats} rounds, round-robin)",
            "",
            *report.server_table(server_results),
            "",
        ]
    lines += [
        "## Targets (issue 12, from this run; the peer ratios from issue 8)",
        "",
        *report.targets(inproc_results, server_results, concurrencies),
        "",
    ]
    text = "\n".join(lines[len(report.TITLE.splitlines()) :])
    if args.no_write:
        print(text)
    else:
        report.replace_section("bench", text)
        print(f"wrote {report.RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
