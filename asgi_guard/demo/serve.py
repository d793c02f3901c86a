"""``asgi-guard demo``: bind the port first, then print the banner and serve.

The socket is bound before anything is printed and handed to uvicorn, so a busy port is one clear
error line (no banner with credentials for a server that never starts) and nothing can take the port
between the check and the start.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from asgi_guard.cli import uvicorn_options
from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    import argparse
    from typing import TextIO


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (``OSError`` when the port is taken or not allowed)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no obstacle
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _default_db() -> str:
    folder = Path(tempfile.gettempdir()) / "asgi-guard-demo"
    folder.mkdir(mode=0o700, exist_ok=True)
    return f"sqlite:///{folder / 'guard.db'}"


def serve(args: argparse.Namespace, out: TextIO) -> int:
    """Serve the demo until interrupted; 2 when uvicorn is missing or the port cannot be bound."""
    try:
        import uvicorn
    except ImportError:
        print("error: the demo needs uvicorn: pip install 'asgi-guard[demo]'", file=sys.stderr)
        return 2
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror}): pick another --port", file=sys.stderr)
        return 2
    from asgi_guard.demo import build_demo

    # Show the security log: one JSON line per decision, next to uvicorn's access log.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("security %(message)s"))
    security = logging.getLogger("asgi_guard.security")
    security.addHandler(handler)
    security.setLevel(logging.INFO)
    db_url = None if args.memory else (args.db or _default_db())
    if db_url is not None and importlib.util.find_spec("sqlalchemy") is None:
        print("no sql extra (pip install 'asgi-guard[sql]'): API keys stay in memory", file=sys.stderr)
        db_url = None
    base = f"http://{_shown(args.host)}:{args.port}"
    try:
        demo = build_demo(redis_url=args.redis, db_url=db_url, public_url=base)
    except ConfigurationError as exc:  # e.g. OAuth login over plain http off loopback: one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(demo.banner(base), file=out, flush=True)
    config = uvicorn.Config(demo.app, host=args.host, port=args.port, log_level="info", **uvicorn_options())
    with sock:
        uvicorn.Server(config).run(sockets=[sock])
    return 0


def _shown(host: str) -> str:
    """The host of the demo's own URLs: a wildcard address is reached on loopback; IPv6 in brackets."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - naming the wildcard, not binding to it
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


__all__ = ("bind", "serve")
