"""What ``asgi-guard db upgrade | current | grants | reseal`` do (the grammar and help: :mod:`asgi_guard.cli`).

The database URL comes from ``--url`` or ``$ASGI_GUARD_DATABASE_URL`` (prefer the variable when the
URL carries a password: a command line is visible to other local users). Sealing keys come from
``$ASGI_GUARD_SEALING_KEYS`` or ``--keys-file``, never from the command line.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, Final

from asgi_guard._env import DATABASE_URL_ENV
from asgi_guard.errors import ConfigurationError
from asgi_guard.sealing import SealedValueError, SealingKeyRing

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable
    from typing import TextIO

    from asgi_guard.sql.database import SQLDatabase

URL_ENV: Final = DATABASE_URL_ENV


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


def run_db(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``db upgrade|current|grants|reseal`` (parsed by :mod:`asgi_guard.cli`); returns the exit code."""
    stream = out
    if args.db_command == "grants":
        from asgi_guard.sql.migrate import grants as grant_sql

        print(grant_sql(args.app_role, args.readonly_role), end="", file=stream)
        return 0
    if args.db_command == "upgrade":
        from asgi_guard.sql.migrate import upgrade

        async def do_upgrade(db: SQLDatabase) -> int:
            print(f"schema at revision {await upgrade(db, args.revision)}", file=stream)
            return 0

        return _run(args, do_upgrade)
    if args.db_command == "current":
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


__all__ = ("URL_ENV", "run_db")
