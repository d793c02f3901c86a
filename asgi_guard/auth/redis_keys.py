"""API-key records in Redis: one hash per key, named by the key's SHA-256, read with one HGETALL."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any, Final

import msgspec

from asgi_guard.auth.api_keys import APIKeyRecord

if TYPE_CHECKING:
    from collections.abc import Mapping

_JSON_FIELDS: Final = ("permissions", "owner_roles", "communities")
_encoder: Final = msgspec.json.Encoder()


def _to_hash(record: APIKeyRecord) -> dict[str, str]:
    data: dict[str, Any] = msgspec.to_builtins(record)
    out: dict[str, str] = {}
    for name, value in data.items():
        if name == "key_hash" or value is None:
            continue
        if name in _JSON_FIELDS:
            out[name] = _encoder.encode(value).decode()
        elif isinstance(value, bool):
            out[name] = "1" if value else "0"
        else:
            out[name] = str(value)
    return out


def _from_hash(key_hash: str, raw: Mapping[bytes, bytes]) -> APIKeyRecord:
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    data: dict[str, Any] = {"key_hash": key_hash}
    for name, value in fields.items():
        if name in _JSON_FIELDS:
            data[name] = msgspec.json.decode(value)
        elif name == "revoked":
            data[name] = value == "1"
        elif name in ("created_at", "expires_at", "last_used_at"):
            data[name] = float(value)
        else:
            data[name] = value
    return msgspec.convert(data, APIKeyRecord)


class RedisAPIKeyStore:
    """Key records as Redis hashes ``<prefix><sha256>``.

    Args:
        client: a ``redis.asyncio.Redis`` (or cluster) client owned by the caller.
        prefix: the key prefix.
    """

    __slots__ = ("_client", "_prefix")

    def __init__(self, client: Any, *, prefix: str = "asgi_guard:apikey:") -> None:
        self._client = client
        self._prefix = prefix

    async def get(self, key_hash: str) -> APIKeyRecord | None:
        raw = await self._client.hgetall(self._prefix + key_hash)
        if not raw:
            return None
        return _from_hash(key_hash, raw)

    async def put(self, record: APIKeyRecord) -> None:
        name = self._prefix + record.key_hash
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(name)
            pipe.hset(name, mapping=_to_hash(record))
            await pipe.execute()

    async def revoke(self, key_hash: str) -> bool:
        name = self._prefix + key_hash
        if not await self._client.exists(name):
            return False
        await self._client.hset(name, "revoked", "1")
        return True

    async def touch(self, last_used: Mapping[str, float]) -> None:
        if not last_used:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for key_hash, when in last_used.items():
                # HSET only on an existing hash: a deleted key must not come back as a stub.
                pipe.eval(_TOUCH, 1, self._prefix + key_hash, repr(when))
            await pipe.execute()

    async def list(self) -> list[APIKeyRecord]:
        """Every record, oldest first (a SCAN: for the CLI, never the request path)."""
        start = len(self._prefix)
        records = []
        async for name in self._client.scan_iter(match=self._prefix + "*", count=1000):
            raw = await self._client.hgetall(name)
            if raw:
                key = name.decode() if isinstance(name, bytes) else name
                records.append(_from_hash(key[start:], raw))
        return sorted(records, key=lambda record: (record.created_at, record.key_hash))


_TOUCH: Final = (resources.files("asgi_guard.auth") / "touch_last_used.lua").read_text(encoding="utf-8")

__all__ = ("RedisAPIKeyStore",)
