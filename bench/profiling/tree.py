"""``python -m bench profile NAME``: where one stack spends its time, with pyinstrument.

Builds the named stack in this process (a throwaway Redis when it needs one), warms it up, and
profiles ``--n`` in-process requests at ``--concurrency``, printing pyinstrument's call tree. Use it
to find what sits on the hot path that could happen at start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.harness.registry import StackEnv, all_stacks
from bench.harness.worker import Driver, loop_factory


async def profile(name: str, n: int, concurrency: int, redis_url: str | None) -> str:
    from pyinstrument import Profiler

    stack = all_stacks()[name]
    built = await stack.build(StackEnv(redis_url=redis_url))
    try:
        driver = Driver(built)
        await driver.batch(min(n, 2000), concurrency)
        profiler = Profiler(interval=0.0002, async_mode="enabled")
        with profiler:
            await driver.batch(n, concurrency)
        if set(driver.statuses) != {200}:
            raise RuntimeError(f"unexpected statuses {dict(driver.statuses)}")
        return str(profiler.output_text(unicode=True, color=False, show_all=False))
    finally:
        if built.close is not None:
            await built.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench profile", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="a stack name (python -m bench --list)")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args(argv)
    stack = all_stacks()[args.stack]
    for path in reversed(stack.extra_path):
        sys.path.insert(0, path)
    redis = None
    if stack.redis:
        from tests.redis_servers import RedisServer

        redis = RedisServer().start()
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            print(runner.run(profile(args.stack, args.n, args.concurrency, redis.url if redis else None)))
    finally:
        if redis is not None:
            redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
