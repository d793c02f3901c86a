"""``uvicorn bench.harness.serve:app`` serves the stack named by ``BENCH_STACK``.

The stack is built during lifespan startup, inside the server's own event loop (Redis clients bind to
the loop that first uses them). The request the stack expects (its token or API key was made by the
factory, in this process) is written as JSON to ``BENCH_REQUEST_FILE`` so the load generator sends
exactly that.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from bench.harness.registry import Built, StackEnv, all_stacks


def stack_env() -> StackEnv:
    return StackEnv(redis_url=os.environ.get("BENCH_REDIS_URL") or None, cluster=bool(os.environ.get("BENCH_CLUSTER")))


def write_request(built: Built, path: str) -> None:
    spec = built.request
    payload = {
        "method": spec.method,
        "path": spec.path,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in spec.headers],
        "body": b"".join(spec.body).decode("latin-1"),
        "layers": list(built.layers),
    }
    Path(path).write_text(json.dumps(payload))


class ServedStack:
    """An ASGI app that builds the named stack at startup and then delegates to it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.built: Built | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            assert self.built is not None, "lifespan startup did not run"
            await self.built.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    stack = all_stacks()[self.name]
                    for path in reversed(stack.extra_path):
                        sys.path.insert(0, path)
                    self.built = await stack.build(stack_env())
                    if request_file := os.environ.get("BENCH_REQUEST_FILE"):
                        write_request(self.built, request_file)
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.built is not None and self.built.close is not None:
                    await self.built.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


app = ServedStack(os.environ.get("BENCH_STACK", "bare Starlette"))

__all__ = ("ServedStack", "app")
