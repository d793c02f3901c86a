"""A real uvicorn server on a free loopback port, run in a background thread for one test."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from types import TracebackType

    from asgi_guard.types import ASGIApp


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class UvicornThread:
    """Serves ``app`` with uvicorn (lifespan off) until the ``with`` block ends."""

    def __init__(self, app: ASGIApp, port: int | None = None, **options: Any) -> None:
        self.port = port if port is not None else free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning", **options)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> UvicornThread:
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            self._thread.join(0.01)  # polls the startup flag; no test outcome depends on this timing
        if not self.server.started:
            raise RuntimeError("uvicorn did not start")
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.server.should_exit = True
        self._thread.join(10)
