"""API keys: format and checksum, hashing, records, and the memory store."""

from __future__ import annotations

import hashlib

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard.auth import APIKeyRecord, MemoryAPIKeyStore, create_api_key, hash_api_key, is_well_formed
from asgi_guard.errors import ConfigurationError

pytestmark = pytest.mark.anyio


def _record(key: str, **overrides: object) -> APIKeyRecord:
    fields: dict[str, object] = {"key_hash": hash_api_key(key), "owner_id": "owner-1", "name": "ci"}
    fields.update(overrides)
    return msgspec.convert(fields, APIKeyRecord)


def test_created_key_has_prefix_64_hex_and_valid_checksum() -> None:
    """A new key is `<prefix>-` plus 64 lowercase hex digits and passes its own checksum."""
    key = create_api_key("wa")
    assert key.startswith("wa-")
    body = key[3:]
    assert len(body) == 64
    assert body == body.lower()
    int(body, 16)
    assert is_well_formed(key, "wa")


def test_keys_are_unique() -> None:
    """Two generated keys never collide (224 random bits)."""
    assert len({create_api_key() for _ in range(200)}) == 200


def test_custom_prefix_is_used_and_checked() -> None:
    """A key made with another prefix is well-formed for that prefix only."""
    key = create_api_key("svc2")
    assert key.startswith("svc2-")
    assert is_well_formed(key, "svc2")
    assert not is_well_formed(key, "wa")


@pytest.mark.parametrize("prefix", ["", "WA", "9a", "a-b", "x" * 17])
def test_bad_prefix_is_a_configuration_error(prefix: str) -> None:
    """Prefixes must be 1-16 lowercase letters or digits starting with a letter."""
    with pytest.raises(ConfigurationError, match="prefix"):
        create_api_key(prefix)


@settings(max_examples=200)
@given(position=st.integers(min_value=3, max_value=66), char=st.sampled_from("0123456789abcdef"))
def test_any_single_digit_typo_fails_the_checksum(position: int, char: str) -> None:
    """Changing one hex digit of a key makes it malformed (the checksum catches typos)."""
    key = create_api_key()
    if key[position] == char:
        return
    mutated = key[:position] + char + key[position + 1 :]
    assert not is_well_formed(mutated, "wa")


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "wa-",
        "wa-" + "0" * 64,
        "wa_" + "0" * 64,
        "wb-" + "0" * 64,
        "wa-" + "G" * 64,
        "wa-" + "0" * 63,
        "wa-" + "0" * 65,
    ],
)
def test_malformed_keys_are_refused_without_lookup(candidate: str) -> None:
    """Wrong prefix, length, alphabet or checksum: not well-formed."""
    assert not is_well_formed(candidate, "wa")


def test_uppercase_version_of_a_valid_key_is_refused() -> None:
    """Keys are lowercase hex: the upper-cased form of a valid key is refused."""
    key = create_api_key()
    assert not is_well_formed("wa-" + key[3:].upper(), "wa")


def test_hash_is_sha256_hex() -> None:
    """The stored form is the SHA-256 hex digest of the key."""
    key = create_api_key()
    assert hash_api_key(key) == hashlib.sha256(key.encode()).hexdigest()


def test_record_refuses_a_non_digest_hash() -> None:
    """A record must be keyed by a SHA-256 digest, never by the key itself."""
    key = create_api_key()
    with pytest.raises(ConfigurationError, match="key_hash"):
        APIKeyRecord(key_hash=key, owner_id="o")


@pytest.mark.parametrize(("field", "value"), [("owner_id", ""), ("role", "")])
def test_record_refuses_empty_owner_or_role(field: str, value: str) -> None:
    """Owner id and role are required."""
    fields = {"key_hash": hash_api_key(create_api_key()), "owner_id": "o", "role": "user", field: value}
    with pytest.raises(ConfigurationError, match=field):
        APIKeyRecord(**fields)


def test_record_expiry() -> None:
    """A record expires at `expires_at` and never when it is unset."""
    key = create_api_key()
    assert not _record(key).is_expired(1e12)
    expiring = _record(key, expires_at=100.0)
    assert not expiring.is_expired(99.9)
    assert expiring.is_expired(100.0)


def test_principal_of_a_key_is_narrowed_to_its_permissions() -> None:
    """The key's principal is its owner with the key role, communities, and a permission limit."""
    key = create_api_key()
    record = _record(
        key,
        permissions=["action:execute"],
        role="action",
        owner_roles=["moderator"],
        communities={"c1": ["moderator"]},
    )
    principal = record.to_principal()
    assert principal.id == "owner-1"
    assert principal.roles == frozenset({"action", "moderator"})
    assert principal.permission_limit == frozenset({"action:execute"})
    assert principal.permissions == frozenset()
    assert principal.communities == {"c1": frozenset({"moderator"})}
    assert principal.method == "api_key"
    assert principal.key_fingerprint == record.key_hash[:12]
    assert key not in repr(principal)


async def test_memory_store_get_put_revoke_touch() -> None:
    """The memory store finds records by hash, revokes them, and records last use."""
    key = create_api_key()
    record = _record(key)
    store = MemoryAPIKeyStore([record])
    assert await store.get(record.key_hash) == record
    assert await store.get(hash_api_key(create_api_key())) is None
    assert await store.revoke(record.key_hash)
    assert not await store.revoke("0" * 64)
    revoked = await store.get(record.key_hash)
    assert revoked is not None
    assert revoked.revoked
    await store.touch({record.key_hash: 123.0, "f" * 64: 1.0})
    touched = await store.get(record.key_hash)
    assert touched is not None
    assert touched.last_used_at == 123.0
    assert await store.get("f" * 64) is None
    other = _record(create_api_key())
    await store.put(other)
    assert await store.get(other.key_hash) == other
