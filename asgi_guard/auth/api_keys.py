"""API keys: generation with a checksum, SHA-256 hashing, the key record and the store Protocol.

A key looks like ``wa-<64 lowercase hex>``: 56 random hex digits followed by 8 hex digits of
checksum over everything before them, so a mistyped or made-up key is refused without a store
lookup. Only ``hash_api_key(key)`` is ever stored; logs carry a short fingerprint of it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import TYPE_CHECKING, Final, Protocol

import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import Principal

if TYPE_CHECKING:
    from collections.abc import Mapping

KEY_ROLES: Final = ("trigger", "action", "core", "admin", "user")
"""The key roles of the seed project (a key may carry another role name; these are the usual ones)."""

PREFIX_PATTERN: Final = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_RANDOM_HEX: Final = 56
_CHECK_HEX: Final = 8


def _checksum(head: str) -> str:
    return hashlib.sha256(head.encode("ascii")).hexdigest()[:_CHECK_HEX]


def create_api_key(prefix: str = "wa") -> str:
    """A new random API key ``<prefix>-<64 lowercase hex>`` whose last 8 hex digits are a checksum.

    Raises:
        ConfigurationError: the prefix is not 1-16 lowercase letters/digits starting with a letter.
    """
    if not PREFIX_PATTERN.match(prefix):
        raise ConfigurationError.expected("a prefix of 1-16 lowercase letters or digits", prefix, "prefix")
    head = f"{prefix}-{secrets.token_hex(_RANDOM_HEX // 2)}"
    return head + _checksum(head)


def is_well_formed(key: str, prefix: str) -> bool:
    """Whether ``key`` has the shape and a valid checksum for ``prefix`` (no store lookup)."""
    size = len(prefix) + 1 + _RANDOM_HEX + _CHECK_HEX
    if len(key) != size or not key.startswith(prefix) or key[len(prefix)] != "-":
        return False
    body = key[len(prefix) + 1 :]
    if not _HEX.fullmatch(body):
        return False
    head, check = key[:-_CHECK_HEX], key[-_CHECK_HEX:]
    return hmac.compare_digest(_checksum(head), check)


_HEX: Final = re.compile(r"[0-9a-f]+")


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest of ``key``: the only form a key is stored or looked up in."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class APIKeyRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What is stored about one API key (never the key itself).

    Attributes:
        key_hash: ``hash_api_key(key)``, the lookup key.
        name: a human label (``"ci-deploy"``).
        owner_id: the principal the key acts for.
        permissions: what the key may do; narrows, never widens, its owner's permissions.
        role: the key role (``trigger``, ``action``, ``core``, ``admin``, ``user``).
        owner_roles: the owner's roles, when the issuer recorded them (they bound the key too).
        communities: community id -> extra roles in that community.
        created_at: creation time, epoch seconds.
        expires_at: expiry, epoch seconds (``None``: never expires).
        revoked: a revoked key is refused.
        last_used_at: written in the background, in batches.
    """

    key_hash: str
    name: str = ""
    owner_id: str
    permissions: frozenset[str] = frozenset()
    role: str = "user"
    owner_roles: frozenset[str] = frozenset()
    communities: dict[str, frozenset[str]] = msgspec.field(default_factory=dict)
    created_at: float = 0.0
    expires_at: float | None = None
    revoked: bool = False
    last_used_at: float | None = None

    def __post_init__(self) -> None:
        if len(self.key_hash) != 64 or not _HEX.fullmatch(self.key_hash):
            raise ConfigurationError.expected("a SHA-256 hex digest", "<not a digest>", "APIKeyRecord.key_hash")
        if not self.owner_id:
            raise ConfigurationError.expected("a non-empty owner id", self.owner_id, "APIKeyRecord.owner_id")
        if not self.role:
            raise ConfigurationError.expected("a non-empty role", self.role, "APIKeyRecord.role")

    def is_expired(self, now: float) -> bool:
        """Whether the key has expired at ``now``."""
        return self.expires_at is not None and now >= self.expires_at

    def to_principal(self) -> Principal:
        """The principal this key authenticates as: the owner, narrowed to the key's permissions."""
        return Principal(
            self.owner_id,
            username=self.name or self.owner_id,
            roles=frozenset({self.role}) | self.owner_roles,
            permission_limit=self.permissions,
            communities=self.communities,
            method="api_key",
            key_fingerprint=self.key_hash[:12],
            expires_at=self.expires_at,
            claims={"name": self.name, "role": self.role},
        )


class APIKeyStore(Protocol):
    """Where key records live. Lookups are by hash only (no scans on the request path)."""

    async def get(self, key_hash: str) -> APIKeyRecord | None:
        """The record for ``key_hash``, or ``None``."""
        ...

    async def put(self, record: APIKeyRecord) -> None:
        """Store (or replace) a record."""
        ...

    async def revoke(self, key_hash: str) -> bool:
        """Mark a key revoked; ``False`` when it is unknown."""
        ...

    async def touch(self, last_used: Mapping[str, float]) -> None:
        """Record last-used times for several keys at once (called in background batches)."""
        ...


class ListableAPIKeyStore(APIKeyStore, Protocol):
    """A store that can also list every record (the CLI's ``keys list``; never the request path)."""

    async def list(self) -> list[APIKeyRecord]:
        """Every record, oldest first."""
        ...


class MemoryAPIKeyStore:
    """An in-process store (tests, single-process deployments, the demo)."""

    __slots__ = ("_records",)

    def __init__(self, records: tuple[APIKeyRecord, ...] | list[APIKeyRecord] = ()) -> None:
        self._records: dict[str, APIKeyRecord] = {record.key_hash: record for record in records}

    async def get(self, key_hash: str) -> APIKeyRecord | None:
        return self._records.get(key_hash)

    async def put(self, record: APIKeyRecord) -> None:
        self._records[record.key_hash] = record

    async def revoke(self, key_hash: str) -> bool:
        record = self._records.get(key_hash)
        if record is None:
            return False
        self._records[key_hash] = msgspec.structs.replace(record, revoked=True)
        return True

    async def touch(self, last_used: Mapping[str, float]) -> None:
        for key_hash, when in last_used.items():
            record = self._records.get(key_hash)
            if record is not None:
                self._records[key_hash] = msgspec.structs.replace(record, last_used_at=when)

    async def list(self) -> list[APIKeyRecord]:
        return sorted(self._records.values(), key=lambda record: (record.created_at, record.key_hash))


__all__ = (
    "KEY_ROLES",
    "PREFIX_PATTERN",
    "APIKeyRecord",
    "APIKeyStore",
    "ListableAPIKeyStore",
    "MemoryAPIKeyStore",
    "create_api_key",
    "hash_api_key",
    "is_well_formed",
)
