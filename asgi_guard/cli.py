"""The command line: one argparse grammar for ``asgi-guard`` (the console script) and ``python -m asgi_guard``.

This module holds the grammar and the help texts only; each command runs in the module that owns its
concept (:mod:`asgi_guard.auth.cli`, :mod:`asgi_guard.sql.cli`, :mod:`asgi_guard.demo.serve`), imported
when the command runs so that ``--help`` works without the optional extras. Secrets never come from the
command line (shell history, the process table): the JWT secret and sealing keys are read from the
environment or a file.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING, Any, Final

from asgi_guard import __version__
from asgi_guard._env import DATABASE_URL_ENV, JWT_KID_ENV, JWT_SECRET_ENV, KEY_STORE_ENV
from asgi_guard.auth.tokens import MAX_ACCESS_TTL, MIN_ACCESS_TTL
from asgi_guard.sealing import DEFAULT_ENV as SEALING_ENV

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

PROG: Final = "asgi-guard"
_SQL_EXTRA: Final = "pip install 'asgi-guard[sql]'"


def uvicorn_options() -> dict[str, Any]:
    """How asgi_guard's own commands run uvicorn: uvicorn never rewrites the client address or scheme.

    uvicorn's defaults trust ``X-Forwarded-For``/``X-Forwarded-Proto`` from loopback, which would let
    any local client pick its address (rate-limit key, log field) and scheme (HSTS). Proxy trust is
    decided in one place only: :class:`asgi_guard.ClientIPConfig`.
    """
    return {"proxy_headers": False, "forwarded_allow_ips": []}


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs keep their line breaks (examples stay readable); option help wraps."""


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    return commands.add_parser(name, help=summary, description=description, formatter_class=_Formatter)


def _runs(parser: argparse.ArgumentParser, target: str) -> None:
    """The command's runner, ``module:function``, imported only when the command runs."""
    parser.set_defaults(run=target)


def _store_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help=f"{what}: redis://host:6379/0, sqlite:///path/keys.db or postgresql://user@host/db "
        f"(default: ${KEY_STORE_ENV}; the SQL stores need the sql extra)",
    )


def _role_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extra-roles",
        nargs="*",
        default=[],
        metavar="ROLE",
        help="role names your application's RoleHierarchy adds, accepted besides the built-in ones",
    )


def _keys(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = _command(
        commands,
        "keys",
        "create and manage API keys",
        "Create API keys and manage their records in a key store.\n\n"
        "A store holds each key's SHA-256 and its grants, never the key. The in-memory store lives\n"
        "inside one application process, so nothing outside it can load records into it: build\n"
        "MemoryAPIKeyStore([record, ...]) in the application, or use Redis, SQLite or PostgreSQL.",
    )
    sub = keys.add_subparsers(title="commands", dest="keys_command", metavar="COMMAND", required=True)
    new = _command(
        sub,
        "new",
        "make a key; print it once and print its record",
        "Make a new API key. The key is printed once (store it now); the next line is its JSON record\n"
        "(the key's hash and grants). Load the record into a store with 'keys add', or pass --store.\n\n"
        "example:\n"
        "  asgi-guard keys new --name deploy-bot --role trigger --store redis://localhost:6379/0",
    )
    _store_option(new, "also store the record in this store")
    new.add_argument(
        "--prefix",
        default="wa",
        help="the key's prefix: a lowercase letter then up to 15 letters or digits (default: wa)",
    )
    new.add_argument("--name", default="", help="a label for people reading 'keys list'")
    new.add_argument("--owner", default="service", help="the owner id the key acts for (default: service)")
    new.add_argument("--role", default="user", help="the key's role (default: user); see the list of known roles below")
    new.add_argument(
        "--permissions",
        nargs="*",
        default=[],
        metavar="PERMISSION",
        help="limit the key to these permissions: resource:action, resource:* or * (space or comma separated)",
    )
    new.add_argument("--communities", nargs="*", default=[], metavar="ID", help="community ids the key may act in")
    new.add_argument(
        "--expires-in",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds until the key expires (default: never)",
    )
    _role_options(new)
    new.epilog = _known_roles()
    _runs(new, "asgi_guard.auth.cli:keys_new")

    add = _command(
        sub,
        "add",
        "load a record printed by 'keys new' into a store",
        "Load a record printed by 'keys new' into a store. The record holds the key's hash, never the\n"
        "key, so it is safe on the command line. The in-memory store cannot be loaded from outside the\n"
        "application process.\n\n"
        "examples:\n"
        "  asgi-guard keys add --store sqlite:///keys.db '{\"key_hash\": ...}'\n"
        "  asgi-guard keys add --store redis://localhost:6379/0 < record.json",
    )
    _store_option(add, "the store to load the record into")
    add.add_argument("record", nargs="?", default=None, help="the JSON record (default: read it from stdin)")
    _role_options(add)
    _runs(add, "asgi_guard.auth.cli:keys_add")

    revoke = _command(
        sub,
        "revoke",
        "revoke a key by its hash, or by the key read from stdin",
        "Revoke a key: give its SHA-256 as 'keys list' prints it, or --key-stdin to read the key itself\n"
        "from stdin (never from the command line).",
    )
    _store_option(revoke, "the store holding the key")
    revoke.add_argument("key_hash", nargs="?", default=None, help="the key's SHA-256 hex digest")
    revoke.add_argument("--key-stdin", action="store_true", help="read the API key itself from stdin")
    _runs(revoke, "asgi_guard.auth.cli:keys_revoke")

    listing = _command(
        sub,
        "list",
        "print the records in a store",
        "Print every record in the store, one JSON line each, oldest first (hashes, never keys).",
    )
    _store_option(listing, "the store to list")
    _runs(listing, "asgi_guard.auth.cli:keys_list")


def _token(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = _command(commands, "token", "issue access tokens", "Issue signed access tokens (JWT, HS256).")
    sub = token.add_subparsers(title="commands", dest="token_command", metavar="COMMAND", required=True)
    issue = _command(
        sub,
        "issue",
        "print a signed access token",
        f"Print a signed access token. The signing secret is read from ${JWT_SECRET_ENV} (at least 32\n"
        f"bytes), never from the command line; ${JWT_KID_ENV} names its key id (default: default).\n"
        "Give --issuer and --audience when your JWTAuth checks them.\n\n"
        "example:\n"
        "  asgi-guard token issue --sub user-1 --roles moderator --issuer my-api --audience my-api",
    )
    issue.add_argument("--sub", required=True, help="the subject: the user id the token is for")
    issue.add_argument("--roles", nargs="*", default=[], metavar="ROLE", help="global roles (space or comma separated)")
    issue.add_argument("--communities", nargs="*", default=[], metavar="ID", help="community ids the user belongs to")
    issue.add_argument("--username", default="", help="display name carried in the token")
    issue.add_argument("--email", default="", help="email address carried in the token")
    issue.add_argument(
        "--ttl",
        type=float,
        default=MIN_ACCESS_TTL,
        metavar="SECONDS",
        help=f"lifetime in seconds, {MIN_ACCESS_TTL:.0f} to {MAX_ACCESS_TTL:.0f} (default: {MIN_ACCESS_TTL:.0f})",
    )
    issue.add_argument("--issuer", default=None, help="the iss claim (must match JWTAuth's issuer, if it sets one)")
    issue.add_argument("--audience", default=None, help="the aud claim (must match JWTAuth's audience, if it sets one)")
    _role_options(issue)
    issue.epilog = _known_roles()
    _runs(issue, "asgi_guard.auth.cli:token_issue")


def _url_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=None,
        help=f"postgresql://... or sqlite:///file.db (default: ${DATABASE_URL_ENV}, better when the URL holds a "
        "password); TLS: ?sslmode=verify-full&sslrootcert=...",
    )
    parser.add_argument(
        "--allow-plaintext",
        action="store_true",
        help="accept sslmode=disable/allow/prefer for a non-loopback PostgreSQL (not recommended)",
    )


def _db(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = _command(
        commands,
        "db",
        "manage the SQL schema (sql extra)",
        f"Manage asgi_guard's SQL schema (needs the sql extra: {_SQL_EXTRA}).",
    )
    sub = db.add_subparsers(title="commands", dest="db_command", metavar="COMMAND", required=True)
    upgrade = _command(sub, "upgrade", "apply the schema migrations", "Apply the schema migrations (Alembic).")
    _url_options(upgrade)
    upgrade.add_argument("--revision", default="head", help="target revision (default: head, the newest)")
    current = _command(sub, "current", "print the schema revision", "Print the database's schema revision.")
    _url_options(current)
    grants = _command(
        sub,
        "grants",
        "print least-privilege GRANT statements",
        "Print least-privilege GRANT statements for PostgreSQL roles (no database connection).",
    )
    grants.add_argument("--app-role", required=True, help="role of the application: read/write on asgi_guard tables")
    grants.add_argument("--readonly-role", default=None, help="role for reporting: SELECT only")
    reseal = _command(
        sub,
        "reseal",
        "re-encrypt sealed secrets under the newest key",
        f"Re-encrypt every sealed secret under the newest sealing key. The keys come from\n"
        f"${SEALING_ENV} or --keys-file, never from the command line.",
    )
    _url_options(reseal)
    reseal.add_argument(
        "--keys-file",
        default=None,
        metavar="PATH",
        help=f"file of 'kid:<base64>' lines, the last one newest (default: ${SEALING_ENV})",
    )
    for parser in (upgrade, current, grants, reseal):
        _runs(parser, "asgi_guard.sql.cli:run_db")


def _demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = _command(
        commands,
        "demo",
        "serve the demo community API (demo extra)",
        "Serve the demo community API behind the whole stack, with demo secrets generated per process.\n"
        "It prints tokens, an API key and ready-to-paste curl lines. Needs the demo extra:\n"
        "pip install 'asgi-guard[demo]'.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    demo.add_argument("--redis", metavar="URL", default=None, help="use Redis backends at URL instead of memory")
    demo.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="keep API keys and revocations in this database (default: a SQLite file under the temp dir)",
    )
    demo.add_argument("--memory", action="store_true", help="keep API keys and revocations in memory only")
    _runs(demo, "asgi_guard.demo.serve:serve")


def _known_roles() -> str:
    from asgi_guard.auth.cli import KNOWN_ROLES

    return "known roles: " + ", ".join(sorted(KNOWN_ROLES))


def build_parser() -> argparse.ArgumentParser:
    """The whole grammar: ``keys``, ``token``, ``db`` and ``demo``, each with its own ``--help``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="asgi_guard's command line; 'python -m asgi_guard' is the same program.",
        epilog="Run 'asgi-guard COMMAND --help' for a command's options, for example:\n"
        "  asgi-guard keys new --help\n"
        "  asgi-guard token issue --help",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    _keys(commands)
    _token(commands)
    _db(commands)
    _demo(commands)
    return parser


def _runner(target: str) -> Callable[[argparse.Namespace, TextIO], int]:
    module, _, name = target.partition(":")
    found: Callable[[argparse.Namespace, TextIO], int] = getattr(importlib.import_module(module), name)
    return found


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the command; returns the process exit code.

    Usage errors exit 2 with a message, as argparse does; ``out`` receives the command's output.
    """
    parser = build_parser()
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list:
        parser.print_help(sys.stderr)
        return 2
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        run = _runner(args.run)
    except ImportError:
        if args.command != "db":
            raise
        print(f"error: the db commands need the sql extra: {_SQL_EXTRA}", file=sys.stderr)
        return 2
    return run(args, out if out is not None else sys.stdout)


__all__ = ("DATABASE_URL_ENV", "JWT_SECRET_ENV", "KEY_STORE_ENV", "PROG", "build_parser", "main", "uvicorn_options")
