"""ProviderToken and the memory store: round-trips, sealing in memory, validation, no secret in repr."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_guard.errors import ConfigurationError
from asgi_guard.provider_tokens import MemoryProviderTokenStore, ProviderToken, token_context
from asgi_guard.sealing import SealedValueError, SealingKeyRing

RING = SealingKeyRing({"k1": bytes(32)}, current="k1")
ids = st.text(min_size=1, max_size=40).filter(lambda text: "\x00" not in text)


def token(user: str = "u1", provider: str = "twitch", **changes: object) -> ProviderToken:
    fields: dict[str, object] = {
        "user_id": user,
        "provider": provider,
        "access_token": "access-secret",
        "refresh_token": "refresh-secret",
        "expires_at": 1_900_000_000.0,
        "scopes": ("openid", "user:read:email"),
        "provider_user_id": "tw-42",
        "updated_at": 1_800_000_000.0,
    }
    fields.update(changes)
    return ProviderToken(**fields)  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize("ring", [None, RING], ids=["plain", "sealed"])
async def test_put_get_list_delete(ring: SealingKeyRing | None) -> None:
    """The store keeps one record per (user, provider) and lists a user's records by provider."""
    store = MemoryProviderTokenStore(ring)
    await store.put(token(provider="twitch"))
    await store.put(token(provider="discord", refresh_token=None))
    await store.put(token(user="u2", provider="slack"))
    assert await store.get("u1", "twitch") == token(provider="twitch")
    assert [t.provider for t in await store.list_for_user("u1")] == ["discord", "twitch"]
    await store.put(token(provider="twitch", access_token="rotated"))
    got = await store.get("u1", "twitch")
    assert got is not None
    assert got.access_token == "rotated"
    assert await store.delete("u1", "twitch")
    assert not await store.delete("u1", "twitch")
    assert await store.get("u1", "twitch") is None
    assert await store.list_for_user("nobody") == []


@pytest.mark.anyio
async def test_sealed_memory_holds_no_plaintext() -> None:
    """With a ring, the process holds only sealed text between calls."""
    store = MemoryProviderTokenStore(RING)
    await store.put(token())
    held = store._records[("u1", "twitch")]
    assert isinstance(held, str)
    assert "access-secret" not in held
    assert "refresh-secret" not in held
    assert repr(store) == "MemoryProviderTokenStore(records=1, sealed=True)"


@pytest.mark.anyio
async def test_a_sealed_record_moved_to_another_user_does_not_open() -> None:
    """The seal is bound to (user, provider): swapping rows is detected."""
    store = MemoryProviderTokenStore(RING)
    await store.put(token(user="alice"))
    await store.put(token(user="mallory"))
    store._records[("mallory", "twitch")] = store._records[("alice", "twitch")]
    with pytest.raises(SealedValueError):
        await store.get("mallory", "twitch")


@pytest.mark.anyio
@given(user=ids, provider=ids, secret=st.text(max_size=200), scopes=st.lists(st.text(max_size=20), max_size=5))
async def test_round_trips_arbitrary_strings(user: str, provider: str, secret: str, scopes: list[str]) -> None:
    """Any ids, secrets and scopes come back exactly, sealed or not."""
    for ring in (None, RING):
        store = MemoryProviderTokenStore(ring)
        original = token(user, provider, access_token=secret, refresh_token=secret or None, scopes=tuple(scopes))
        await store.put(original)
        assert await store.get(user, provider) == original


def test_token_context_is_unambiguous() -> None:
    """Ids containing separators cannot collide with another (user, provider) pair."""
    assert token_context("a:b", "c", "access") != token_context("a", "b:c", "access")
    assert token_context("a", "b", "access") != token_context("a", "b", "refresh")


@pytest.mark.parametrize(("user", "provider"), [("", "twitch"), ("u", ""), ("u\x00x", "twitch"), ("u" * 513, "p")])
def test_bad_ids_are_refused(user: str, provider: str) -> None:
    """Empty, over-long or NUL-containing ids fail at construction."""
    with pytest.raises(ConfigurationError, match="ProviderToken"):
        token(user, provider)


def test_repr_hides_the_tokens() -> None:
    """repr names the row, never the secrets."""
    text = repr(token())
    assert "access-secret" not in text
    assert "refresh-secret" not in text
    assert "twitch" in text
