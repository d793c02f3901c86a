"""What ``asgi-guard keys ...`` and ``token issue`` do (the grammar and help are in :mod:`asgi_guard.cli`).

``keys new`` prints a new API key once plus the record to store (and stores it with ``--store URL``);
``keys add``/``revoke``/``list`` manage records in a store (``redis://``, ``sqlite:///file.db``,
``postgresql://...``); ``token issue`` signs an access token with the secret from an environment
variable (never argv, which other local users can read from the process table). Roles must be ones the
package defines or ones named with ``--extra-roles``; permissions must be well-formed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from typing import TYPE_CHECKING, Final

import msgspec

from asgi_guard._env import JWT_KID_ENV as KID_ENV
from asgi_guard._env import JWT_SECRET_ENV as SECRET_ENV
from asgi_guard._env import KEY_STORE_ENV as STORE_ENV
from asgi_guard.auth.api_keys import KEY_ROLES, APIKeyRecord, create_api_key, hash_api_key
from asgi_guard.auth.keyring import KeyRing
from asgi_guard.auth.revocation import MemoryRevocationStore
from asgi_guard.auth.tokens import TokenService
from asgi_guard.clock import SYSTEM_CLOCK
from asgi_guard.errors import ConfigurationError
from asgi_guard.rbac.permissions import is_permission
from asgi_guard.rbac.roles import DEFAULT_ROLES

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
    from typing import TextIO

    from asgi_guard.auth.api_keys import ListableAPIKeyStore


def _split(values: Sequence[str]) -> list[str]:
    """Accept both ``--roles a b`` and ``--roles a,b``."""
    return [item for value in values for item in value.split(",") if item]


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


KNOWN_ROLES: Final = frozenset({role.name for role in DEFAULT_ROLES.roles} | set(KEY_ROLES))
"""The roles the package defines: those of ``DEFAULT_ROLES`` plus the API-key roles."""


def _check_grants(roles: Sequence[str], permissions: Sequence[str], extra_roles: Sequence[str]) -> str | None:
    """Why ``roles``/``permissions`` are refused (an unknown role, a malformed permission), or None."""
    known = KNOWN_ROLES | set(_split(extra_roles))
    for role in roles:
        if role not in known:
            return (
                f"unknown role {role!r}: known roles are {', '.join(sorted(known))} "
                "(name your application's own roles with --extra-roles)"
            )
    for permission in permissions:
        if not is_permission(permission):
            return f"malformed permission {permission!r}: expected resource:action, resource:* or *"
    return None


def _refuse(reason: str) -> int:
    print(f"error: {reason}", file=sys.stderr)
    return 2


_LOAD_HINT: Final = (
    "To load the record into a store: asgi-guard keys add --store URL 'RECORD' (or on stdin), with URL\n"
    "redis://..., sqlite:///file.db or postgresql://...; or make the key with --store URL. The in-memory\n"
    "store cannot be loaded from outside its process: pass the record to MemoryAPIKeyStore([...]) in your app."
)


def keys_new(args: argparse.Namespace, out: TextIO) -> int:
    """``keys new``: print the key once, then its JSON record; with ``--store`` the record is also stored."""
    permissions = _split(args.permissions)
    refused = _check_grants([args.role], permissions, args.extra_roles)
    if refused:
        return _refuse(refused)
    try:
        key = create_api_key(args.prefix)
        now = SYSTEM_CLOCK.time()
        record = APIKeyRecord(
            key_hash=hash_api_key(key),
            name=args.name,
            owner_id=args.owner,
            permissions=frozenset(permissions),
            role=args.role,
            communities={community: frozenset() for community in _split(args.communities)},
            created_at=now,
            expires_at=None if args.expires_in is None else now + args.expires_in,
        )
    except ConfigurationError as exc:
        return _refuse(str(exc))
    stored = bool(args.store or os.environ.get(STORE_ENV))
    if stored:

        async def put(store: ListableAPIKeyStore) -> int:
            await store.put(record)
            return 0

        done = _store_action(args.store, put)
        if done:
            return done
    print(f"API key (shown once, store it now): {key}", file=out)
    print(msgspec.json.encode(record, order="sorted").decode(), file=out)
    print("The record is stored." if stored else _LOAD_HINT, file=sys.stderr)
    return 0


def keys_add(args: argparse.Namespace, out: TextIO) -> int:
    """``keys add``: store a record printed by ``keys new`` (from the argument or stdin)."""
    text = args.record if args.record is not None else sys.stdin.read()
    try:
        record = msgspec.json.decode(text.strip(), type=APIKeyRecord)
    except (msgspec.ValidationError, msgspec.DecodeError, ConfigurationError) as exc:
        return _refuse(f"not an API key record ({exc})")
    refused = _check_grants([record.role], sorted(record.permissions), args.extra_roles)
    if refused:
        return _refuse(refused)

    async def put(store: ListableAPIKeyStore) -> int:
        await store.put(record)
        print(f"stored {record.key_hash[:12]}", file=out)
        return 0

    return _store_action(args.store, put)


def keys_revoke(args: argparse.Namespace, out: TextIO) -> int:
    """``keys revoke``: by the key's SHA-256, or by the key itself read from stdin (never argv)."""
    key_hash = hash_api_key(sys.stdin.readline().strip()) if args.key_stdin else (args.key_hash or "")
    if not _HASH.fullmatch(key_hash):
        return _refuse("give the key's SHA-256 hex digest, or --key-stdin")

    async def revoke(store: ListableAPIKeyStore) -> int:
        if not await store.revoke(key_hash):
            print(f"error: no key {key_hash[:12]} in the store", file=sys.stderr)
            return 1
        print(f"revoked {key_hash[:12]}", file=out)
        return 0

    return _store_action(args.store, revoke)


def keys_list(args: argparse.Namespace, out: TextIO) -> int:
    """``keys list``: one JSON record per line, oldest first (hashes, never keys)."""

    async def show(store: ListableAPIKeyStore) -> int:
        for record in await store.list():
            print(msgspec.json.encode(record, order="sorted").decode(), file=out)
        return 0

    return _store_action(args.store, show)


def token_issue(args: argparse.Namespace, out: TextIO) -> int:
    """``token issue``: print an access token signed with the secret from ``$ASGI_GUARD_JWT_SECRET``."""
    roles = _split(args.roles)
    refused = _check_grants(roles, (), args.extra_roles)
    if refused:
        return _refuse(refused)
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        return _refuse(f"set the signing secret in ${SECRET_ENV} (it is never read from the command line)")
    try:
        keyring = KeyRing.single(secret, kid=os.environ.get(KID_ENV, "default"))
        service = TokenService(keyring, MemoryRevocationStore(), issuer=args.issuer, audience=args.audience)
        token = service.issue_access(
            args.sub,
            username=args.username,
            email=args.email,
            roles=roles,
            communities=_split(args.communities),
            ttl=args.ttl,
        )
    except ConfigurationError as exc:
        return _refuse(str(exc))
    print(token, file=out)
    return 0


__all__ = (
    "KID_ENV",
    "KNOWN_ROLES",
    "SECRET_ENV",
    "STORE_ENV",
    "keys_add",
    "keys_list",
    "keys_new",
    "keys_revoke",
    "open_key_store",
    "token_issue",
)
