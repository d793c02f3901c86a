"""Command-line tools: ``keys new`` prints a new API key once plus the record to store (and stores it
with ``--store URL``); ``keys add``/``revoke``/``list`` manage records in a store (``redis://``,
``sqlite:///file.db``, ``postgresql://...``); ``token issue`` signs an access token with the secret
from an environment variable (never argv, which other local users can read from the process table)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
from typing import TYPE_CHECKING, Any, Final

import msgspec

from asgi_guard.auth.api_keys import KEY_ROLES, APIKeyRecord, create_api_key, hash_api_key
from asgi_guard.auth.keyring import KeyRing
from asgi_guard.auth.revocation import MemoryRevocationStore
from asgi_guard.auth.tokens import MAX_ACCESS_TTL, MIN_ACCESS_TTL, TokenService
from asgi_guard.clock import SYSTEM_CLOCK
from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
    from typing import TextIO

    from asgi_guard.auth.api_keys import ListableAPIKeyStore

SECRET_ENV: Final = "ASGI_GUARD_JWT_SECRET"  # noqa: S105 - the variable name, not a secret
KID_ENV: Final = "ASGI_GUARD_JWT_KID"


def _split(values: Sequence[str]) -> list[str]:
    """Accept both ``--roles a b`` and ``--roles a,b``."""
    return [item for value in values for item in value.split(",") if item]


STORE_ENV: Final = "ASGI_GUARD_KEY_STORE"
_HASH: Final = re.compile(r"[0-9a-f]{64}")


@contextlib.asynccontextmanager
async def open_key_store(url: str) -> AsyncIterator[ListableAPIKeyStore]:
    """The API-key store at ``url``: ``redis://``/``rediss://``, ``sqlite:///file.db`` (migrated on
    first use: the embedded default) or ``postgresql://...`` (run ``db upgrade`` first).

    Raises:
        ConfigurationError: an unsupported URL (or a SQL URL without the ``sql`` extra).
    """
    scheme = url.partition(":")[0].lower()
    if scheme in ("redis", "rediss"):
        from redis.asyncio import Redis

        from asgi_guard.auth.redis_keys import RedisAPIKeyStore

        client = Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
        try:
            yield RedisAPIKeyStore(client)
        finally:
            await client.aclose()
        return
    if not scheme.startswith(("sqlite", "postgres")):
        raise ConfigurationError.expected("a redis://, sqlite:/// or postgresql:// URL", scheme, "--store")
    try:
        from asgi_guard.sql import SQLAPIKeyStore, SQLDatabase, upgrade
    except ImportError as exc:
        raise ConfigurationError.expected("the sql extra: pip install 'asgi-guard[sql]'", scheme, "--store") from exc
    db = SQLDatabase(url)
    try:
        if not db.is_postgres:
            await upgrade(db)
        yield SQLAPIKeyStore(db, cache_ttl=0)
    finally:
        await db.engine.dispose()


def _store_action(url: str | None, action: Callable[[ListableAPIKeyStore], Awaitable[int]]) -> int:
    url = url or os.environ.get(STORE_ENV)
    if not url:
        print(f"error: give --store URL or set ${STORE_ENV}", file=sys.stderr)
        return 2

    async def run() -> int:
        async with open_key_store(url) as store:
            return await action(store)

    try:
        return asyncio.run(run())
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a store failure: say which kind, never the URL (it may hold a password)
        print(f"error: the key store failed ({type(exc).__name__})", file=sys.stderr)
        return 1


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help=f"redis://..., sqlite:///file.db or postgresql://... (default ${STORE_ENV})",
    )


def keys_new(argv: list[str], out: TextIO | None = None) -> int:
    """``keys new [--prefix wa] [--name N] [--owner ID] [--role R] [--permissions P ...]
    [--communities C ...] [--expires-in SECONDS] [--store URL]``: print the key once, then its JSON
    record; with ``--store`` the record is also stored."""
    stream = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(prog="python -m asgi_guard keys new", description=keys_new.__doc__)
    _add_store(parser)
    parser.add_argument("--prefix", default="wa")
    parser.add_argument("--name", default="")
    parser.add_argument("--owner", default="service")
    parser.add_argument("--role", default="user", help=f"usually one of {', '.join(KEY_ROLES)}")
    parser.add_argument("--permissions", nargs="*", default=[])
    parser.add_argument("--communities", nargs="*", default=[])
    parser.add_argument("--expires-in", type=float, default=None, help="seconds until the key expires")
    args = parser.parse_args(argv)
    try:
        key = create_api_key(args.prefix)
        now = SYSTEM_CLOCK.time()
        record = APIKeyRecord(
            key_hash=hash_api_key(key),
            name=args.name,
            owner_id=args.owner,
            permissions=frozenset(_split(args.permissions)),
            role=args.role,
            communities={community: frozenset() for community in _split(args.communities)},
            created_at=now,
            expires_at=None if args.expires_in is None else now + args.expires_in,
        )
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.store or os.environ.get(STORE_ENV):

        async def put(store: ListableAPIKeyStore) -> int:
            await store.put(record)
            return 0

        done = _store_action(args.store, put)
        if done:
            return done
    print(f"API key (shown once, store it now): {key}", file=stream)
    print(msgspec.json.encode(record, order="sorted").decode(), file=stream)
    return 0


def keys_add(argv: list[str], out: TextIO | None = None) -> int:
    """``keys add --store URL [RECORD_JSON]``: store a record printed by ``keys new`` (read from
    stdin when not given); the record holds the key's hash, never the key."""
    stream = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(prog="python -m asgi_guard keys add", description=keys_add.__doc__)
    _add_store(parser)
    parser.add_argument("record", nargs="?", default=None, help="the JSON record (default: read stdin)")
    args = parser.parse_args(argv)
    text = args.record if args.record is not None else sys.stdin.read()
    try:
        record = msgspec.json.decode(text.strip(), type=APIKeyRecord)
    except (msgspec.ValidationError, msgspec.DecodeError, ConfigurationError) as exc:
        print(f"error: not an API key record ({exc})", file=sys.stderr)
        return 2

    async def put(store: ListableAPIKeyStore) -> int:
        await store.put(record)
        print(f"stored {record.key_hash[:12]}", file=stream)
        return 0

    return _store_action(args.store, put)


def keys_revoke(argv: list[str], out: TextIO | None = None) -> int:
    """``keys revoke --store URL (KEY_HASH | --key-stdin)``: revoke a key by its SHA-256 (as ``keys
    list`` prints it) or by the key itself read from stdin (never from the command line)."""
    stream = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(prog="python -m asgi_guard keys revoke", description=keys_revoke.__doc__)
    _add_store(parser)
    parser.add_argument("key_hash", nargs="?", default=None, help="the key's SHA-256 hex digest")
    parser.add_argument("--key-stdin", action="store_true", help="read the API key itself from stdin")
    args = parser.parse_args(argv)
    key_hash = hash_api_key(sys.stdin.readline().strip()) if args.key_stdin else (args.key_hash or "")
    if not _HASH.fullmatch(key_hash):
        print("error: give the key's SHA-256 hex digest, or --key-stdin", file=sys.stderr)
        return 2

    async def revoke(store: ListableAPIKeyStore) -> int:
        if not await store.revoke(key_hash):
            print(f"error: no key {key_hash[:12]} in the store", file=sys.stderr)
            return 1
        print(f"revoked {key_hash[:12]}", file=stream)
        return 0

    return _store_action(args.store, revoke)


def keys_list(argv: list[str], out: TextIO | None = None) -> int:
    """``keys list --store URL``: one JSON record per line, oldest first (hashes, never keys)."""
    stream = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(prog="python -m asgi_guard keys list", description=keys_list.__doc__)
    _add_store(parser)
    args = parser.parse_args(argv)

    async def show(store: ListableAPIKeyStore) -> int:
        for record in await store.list():
            print(msgspec.json.encode(record, order="sorted").decode(), file=stream)
        return 0

    return _store_action(args.store, show)


def token_issue(argv: list[str], out: TextIO | None = None) -> int:
    """``token issue --sub ID [--roles R ...] [--communities C ...] [--username U] [--ttl SECONDS]
    [--issuer ISS] [--audience AUD]``: print a signed access token (secret from $ASGI_GUARD_JWT_SECRET)."""
    stream = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(prog="python -m asgi_guard token issue", description=token_issue.__doc__)
    parser.add_argument("--sub", required=True)
    parser.add_argument("--roles", nargs="*", default=[])
    parser.add_argument("--communities", nargs="*", default=[])
    parser.add_argument("--username", default="")
    parser.add_argument("--email", default="")
    parser.add_argument("--ttl", type=float, default=MIN_ACCESS_TTL, help=f"{MIN_ACCESS_TTL:.0f}-{MAX_ACCESS_TTL:.0f}")
    parser.add_argument("--issuer", default=None)
    parser.add_argument("--audience", default=None)
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        print(
            f"error: set the signing secret in ${SECRET_ENV} (it is never read from the command line)", file=sys.stderr
        )
        return 2
    try:
        keyring = KeyRing.single(secret, kid=os.environ.get(KID_ENV, "default"))
        service = TokenService(keyring, MemoryRevocationStore(), issuer=args.issuer, audience=args.audience)
        token = service.issue_access(
            args.sub,
            username=args.username,
            email=args.email,
            roles=_split(args.roles),
            communities=_split(args.communities),
            ttl=args.ttl,
        )
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(token, file=stream)
    return 0


KEY_COMMANDS: Final[dict[str, Any]] = {"new": keys_new, "add": keys_add, "revoke": keys_revoke, "list": keys_list}

__all__ = (
    "KEY_COMMANDS",
    "KID_ENV",
    "SECRET_ENV",
    "STORE_ENV",
    "keys_add",
    "keys_list",
    "keys_new",
    "keys_revoke",
    "open_key_store",
    "token_issue",
)
