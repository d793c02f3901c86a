"""Command line: ``python -m asgi_guard keys new|add|revoke|list | token issue | db ... | demo``.

Secrets never come from the command line (they would land in shell history and ``ps``): the JWT
secret is read from an environment variable.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any


def uvicorn_options() -> dict[str, Any]:
    """How asgi_guard's own commands run uvicorn: uvicorn never rewrites the client address or scheme.

    uvicorn's defaults trust ``X-Forwarded-For``/``X-Forwarded-Proto`` from loopback, which would let
    any local client pick its address (rate-limit key, log field) and scheme (HSTS). Proxy trust is
    decided in one place only: :class:`asgi_guard.ClientIPConfig`.
    """
    return {"proxy_headers": False, "forwarded_allow_ips": []}


def _demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m asgi_guard demo", description="Serve the demo community API.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--redis", metavar="URL", default=None, help="use Redis backends at URL instead of memory")
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="keep API keys and revocations in this database (default: a SQLite file under the temp dir)",
    )
    parser.add_argument("--memory", action="store_true", help="keep API keys and revocations in memory only")
    args = parser.parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        print("the demo needs uvicorn: pip install 'asgi-guard[demo]'", file=sys.stderr)
        return 2
    from asgi_guard.demo import build_demo

    # Show the security log: one JSON line per decision, next to uvicorn's access log.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("security %(message)s"))
    security = logging.getLogger("asgi_guard.security")
    security.addHandler(handler)
    security.setLevel(logging.INFO)
    db_url = None if args.memory else (args.db or _default_demo_db())
    if db_url is not None and importlib.util.find_spec("sqlalchemy") is None:
        print("no sql extra (pip install 'asgi-guard[sql]'): API keys stay in memory", file=sys.stderr)
        db_url = None
    demo = build_demo(redis_url=args.redis, db_url=db_url, public_url=f"http://{args.host}:{args.port}")
    print(demo.banner(f"http://{args.host}:{args.port}"), flush=True)
    uvicorn.run(demo.app, host=args.host, port=args.port, log_level="info", **uvicorn_options())
    return 0


def _default_demo_db() -> str:
    folder = Path(tempfile.gettempdir()) / "asgi-guard-demo"
    folder.mkdir(mode=0o700, exist_ok=True)
    return f"sqlite:///{folder / 'guard.db'}"


def main(argv: list[str] | None = None) -> int:
    """Dispatch a sub-command; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    usage = (
        "usage: python -m asgi_guard {keys new|add|revoke|list | token issue | db upgrade|current|grants|reseal"
        " | demo} [options]"
    )
    if not args or args[0] in ("-h", "--help"):
        print(usage)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "demo":
        return _demo(rest)
    if command == "keys" and rest[:1] and rest[0] in ("new", "add", "revoke", "list"):
        from asgi_guard.auth.cli import KEY_COMMANDS

        code: int = KEY_COMMANDS[rest[0]](rest[1:])
        return code
    if command == "db":
        try:
            from asgi_guard.sql.cli import db_main
        except ImportError:
            print("the db commands need the sql extra: pip install 'asgi-guard[sql]'", file=sys.stderr)
            return 2
        return db_main(rest)
    if command == "token" and rest[:1] == ["issue"]:
        from asgi_guard.auth.cli import token_issue

        return token_issue(rest[1:])
    print(usage, file=sys.stderr)
    return 2


__all__ = ("main", "uvicorn_options")
