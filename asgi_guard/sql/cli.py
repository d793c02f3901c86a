"""``python -m asgi_guard db upgrade | current | grants | reseal``.

The database URL comes from ``--url`` or ``$ASGI_GUARD_DATABASE_URL`` (prefer the variable when the
URL carries a password: a command line is visible to other local users). Sealing keys come from
``$ASGI_GUARD_SEALING_KEYS`` or ``--keys-file``, never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TYPE_CHECKING, Final

from asgi_guard.errors import ConfigurationError
from asgi_guard.sealing import DEFAULT_ENV, SealedValueError, SealingKeyRing

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import TextIO

    from asgi_guard.sql.database import SQLDatabase

URL_ENV: Final = "ASGI_GUARD_DATABASE_URL"


def _add_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=None,
        help=f"postgresql://... or sqlite:///file.db (default ${URL_ENV}); TLS: ?sslmode=verify-full&sslrootcert=...",
    )
    parser.add_argument(
        "--allow-plaintext",
        action="store_true",
        help="accept sslmode=disable/allow/prefer for a non-loopback PostgreSQL (not recommended)",
    )


def _run(args: argparse.Namespace, action: Callable[[SQLDatabase], Awaitable[int]]) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from asgi_guard.sql.database import SQLDatabase

    url = args.url or os.environ.get(URL_ENV)
    if not url:
        print(f"error: give --url or set ${URL_ENV}", file=sys.stderr)
        return 2

    async def run() -> int:
        db = SQLDatabase(url, allow_plaintext=args.allow_plaintext)
        try:
            return await action(db)
        finally:
            await db.engine.dispose()

    try:
        return asyncio.run(run())
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:
        print(f"error: database unavailable ({type(exc).__name__})", file=sys.stderr)
        return 1


def db_main(argv: list[str], out: TextIO | None = None) -> int:
    """Dispatch ``db <command>``; returns the exit code."""
    stream = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(prog="python -m asgi_guard db", description="Manage asgi_guard's SQL schema.")
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade_parser = commands.add_parser("upgrade", help="apply the schema migrations (to the newest revision)")
    _add_url(upgrade_parser)
    upgrade_parser.add_argument("--revision", default="head", help="target revision (default: head)")
    _add_url(commands.add_parser("current", help="print the database's schema revision"))
    grants = commands.add_parser("grants", help="print least-privilege GRANT statements for PostgreSQL roles")
    grants.add_argument("--app-role", required=True, help="role of the application: read/write on asgi_guard tables")
    grants.add_argument("--readonly-role", default=None, help="role for reporting: SELECT only")
    reseal = commands.add_parser("reseal", help="re-encrypt every sealed secret under the newest key")
    _add_url(reseal)
    reseal.add_argument(
        "--keys-file", default=None, help=f"file of `kid:<base64>` lines (default: ${DEFAULT_ENV}); the last is newest"
    )
    args = parser.parse_args(argv)

    if args.command == "grants":
        from asgi_guard.sql.migrate import grants as grant_sql

        print(grant_sql(args.app_role, args.readonly_role), end="", file=stream)
        return 0
    if args.command == "upgrade":
        from asgi_guard.sql.migrate import upgrade

        async def do_upgrade(db: SQLDatabase) -> int:
            print(f"schema at revision {await upgrade(db, args.revision)}", file=stream)
            return 0

        return _run(args, do_upgrade)
    if args.command == "current":
        from asgi_guard.sql.migrate import current

        async def do_current(db: SQLDatabase) -> int:
            print(await current(db) or "none (run `db upgrade`)", file=stream)
            return 0

        return _run(args, do_current)
    try:
        ring = SealingKeyRing.from_file(args.keys_file) if args.keys_file else SealingKeyRing.from_env()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def do_reseal(db: SQLDatabase) -> int:
        from asgi_guard.sql.provider_tokens import SQLProviderTokenStore

        try:
            changed = await SQLProviderTokenStore(db, ring).reseal()
        except SealedValueError as exc:
            print(f"error: a stored value does not open with these keys ({exc})", file=sys.stderr)
            return 1
        print(f"resealed {changed} row(s) under key {ring.current_kid}", file=stream)
        return 0

    return _run(args, do_reseal)


__all__ = ("URL_ENV", "db_main")
