"""Command-line tools: ``keys new`` prints a new API key once plus the record to store;
``token issue`` signs an access token with the secret from an environment variable (never argv,
which other local users can read from the process table)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Final

import msgspec

from asgi_guard.auth.api_keys import KEY_ROLES, APIKeyRecord, create_api_key, hash_api_key
from asgi_guard.auth.keyring import KeyRing
from asgi_guard.auth.revocation import MemoryRevocationStore
from asgi_guard.auth.tokens import MAX_ACCESS_TTL, MIN_ACCESS_TTL, TokenService
from asgi_guard.clock import SYSTEM_CLOCK
from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

SECRET_ENV: Final = "ASGI_GUARD_JWT_SECRET"  # noqa: S105 - the variable name, not a secret
KID_ENV: Final = "ASGI_GUARD_JWT_KID"


def _split(values: Sequence[str]) -> list[str]:
    """Accept both ``--roles a b`` and ``--roles a,b``."""
    return [item for value in values for item in value.split(",") if item]


def keys_new(argv: list[str], out: TextIO | None = None) -> int:
    """``keys new [--prefix wa] [--name N] [--owner ID] [--role R] [--permissions P ...]
    [--communities C ...] [--expires-in SECONDS]``: print the key once, then its JSON record."""
    stream = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(prog="python -m asgi_guard keys new", description=keys_new.__doc__)
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
    print(f"API key (shown once, store it now): {key}", file=stream)
    print(msgspec.json.encode(record, order="sorted").decode(), file=stream)
    return 0


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


__all__ = ("KID_ENV", "SECRET_ENV", "keys_new", "token_issue")
