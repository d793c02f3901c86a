"""SealingKeyRing: round-trips, refusals (tamper, context, key, kid), rotation, loading, no leaks."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_guard.errors import ConfigurationError
from asgi_guard.sealing import SealedValueError, SealingKeyRing

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
RING = SealingKeyRing({"a": KEY_A}, current="a")


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@given(st.binary(max_size=2048), st.binary(max_size=64))
def test_round_trips_arbitrary_bytes_under_any_context(plaintext: bytes, context: bytes) -> None:
    """Whatever is sealed opens to the same bytes under the same context."""
    sealed = RING.seal(plaintext, context=context)
    assert sealed.startswith("v1.a.")
    assert RING.open(sealed, context=context) == plaintext


def test_each_seal_uses_a_fresh_nonce() -> None:
    """Sealing the same value twice gives two different ciphertexts."""
    assert RING.seal(b"same") != RING.seal(b"same")


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0))
def test_any_flipped_character_is_refused(plaintext: bytes, where: int) -> None:
    """Changing any character of the sealed text makes it fail to open."""
    sealed = RING.seal(plaintext)
    index = where % len(sealed)
    swapped = "B" if sealed[index] != "B" else "C"
    tampered = sealed[:index] + swapped + sealed[index + 1 :]
    with pytest.raises(SealedValueError):
        RING.open(tampered)


def test_the_wrong_context_is_refused() -> None:
    """A ciphertext copied into another row (another context) does not open."""
    sealed = RING.seal(b"token", context=b"row:alice")
    with pytest.raises(SealedValueError, match="authentication"):
        RING.open(sealed, context=b"row:bob")
    with pytest.raises(SealedValueError):
        RING.open(sealed)


def test_the_wrong_key_under_the_same_kid_is_refused() -> None:
    """A ring holding another key under the same kid cannot open the value."""
    sealed = RING.seal(b"token")
    other = SealingKeyRing({"a": KEY_B}, current="a")
    with pytest.raises(SealedValueError, match="authentication"):
        other.open(sealed)


def test_relabelling_the_kid_is_refused() -> None:
    """The kid is authenticated: moving a value to another kid holding the same key fails."""
    ring = SealingKeyRing({"a": KEY_A, "b": KEY_A}, current="a")
    sealed = ring.seal(b"token")
    with pytest.raises(SealedValueError):
        ring.open("v1.b." + sealed.split(".", 2)[2])


def test_an_unknown_kid_is_refused() -> None:
    """A value sealed under a key the ring does not hold is refused by name, not by crash."""
    sealed = SealingKeyRing({"z": KEY_B}, current="z").seal(b"token")
    with pytest.raises(SealedValueError, match="unknown key id"):
        RING.open(sealed)


@pytest.mark.parametrize(
    "text",
    ["", "v1", "v2.a.AAAA", "v1.a", "v1.a.AAAA.extra", "v1.a.AAAA", "v1.a.!!!!", "v1.bad kid.AAAA", "v1.a.A"],
)
def test_malformed_values_are_refused(text: str) -> None:
    """Anything not shaped like a sealed value raises SealedValueError (never another exception)."""
    with pytest.raises(SealedValueError):
        RING.open(text)


def test_rotation_new_key_seals_old_keys_open_and_reseal_moves_values() -> None:
    """After adding a key, old values still open, need a reseal, and reseal under the newest key."""
    old = RING.seal(b"secret", context=b"ctx")
    rotated = SealingKeyRing({"a": KEY_A, "b": KEY_B}, current="b")
    assert rotated.kids == ("a", "b")
    assert rotated.needs_reseal(old)
    assert rotated.open(old, context=b"ctx") == b"secret"
    fresh = rotated.reseal(old, context=b"ctx")
    assert fresh.startswith("v1.b.")
    assert not rotated.needs_reseal(fresh)
    assert rotated.open(fresh, context=b"ctx") == b"secret"
    with pytest.raises(SealedValueError):
        RING.open(fresh, context=b"ctx")  # the old ring does not hold the new key


def test_from_env_last_entry_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment holds `kid:<b64>,kid:<b64>`; the last entry seals."""
    monkeypatch.setenv("ASGI_GUARD_SEALING_KEYS", f"a:{b64(KEY_A)}, b:{b64(KEY_B)}")
    ring = SealingKeyRing.from_env()
    assert ring.current_kid == "b"
    assert ring.open(RING.seal(b"x")) == b"x"


@pytest.mark.parametrize("entry", ["{key}:main", "{key}", "main:{key}:x", "bad kid:{key}"])
def test_a_malformed_entry_never_quotes_the_key(entry: str) -> None:
    """An entry written the wrong way round (``<key>:kid``) or otherwise malformed is refused with its
    position only: the error (a startup log, a CI log) never carries the key."""
    key = SealingKeyRing.generate_key()
    with pytest.raises(ConfigurationError) as caught:
        SealingKeyRing.parse(entry.format(key=key))
    assert key not in str(caught.value)
    assert key[:8] not in str(caught.value)
    assert "<entry 0>" in str(caught.value)


def test_from_file_one_entry_per_line_with_comments(tmp_path: pytest.TempPathFactory) -> None:
    """A key file has one entry per line; comments and blank lines are ignored."""
    path = tmp_path / "keys"  # type: ignore[operator]
    path.write_text(f"# rotated 2026-12\na:{b64(KEY_A)}\n\nb:{SealingKeyRing.generate_key()}\n")
    ring = SealingKeyRing.from_file(path)
    assert ring.kids == ("a", "b")
    assert ring.current_kid == "b"


def test_generate_key_is_32_random_bytes() -> None:
    """Generated keys decode to 32 bytes and differ."""
    first, second = SealingKeyRing.generate_key(), SealingKeyRing.generate_key()
    assert len(base64.b64decode(first)) == 32
    assert first != second


@pytest.mark.parametrize(
    ("keys", "current", "match"),
    [
        ({}, "a", "at least one key"),
        ({"a": b"short"}, "a", "32 bytes"),
        ({"a": "not-bytes"}, "a", "32 bytes"),
        ({"bad kid": KEY_A}, "bad kid", "kid"),
        ({"a.b": KEY_A}, "a.b", "kid"),
        ({"a": KEY_A}, "b", "SealingKeyRing.current"),
    ],
)
def test_bad_rings_are_configuration_errors(keys: dict[str, bytes], current: str, match: str) -> None:
    """Bad keys or kids fail at construction."""
    with pytest.raises(ConfigurationError, match=match):
        SealingKeyRing(keys, current=current)


def test_loading_errors_never_quote_key_material(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """Malformed entries are named by position; the (possibly secret) text never appears."""
    secretish = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0!!"
    for text, match in [
        (f"a:{secretish}", "base64"),
        (f"{secretish}", "kid:<base64 key>"),
        (f"a:{b64(KEY_A)},a:{b64(KEY_B)}", "unique kid"),
        ("  ,\n", "at least one"),
        (f"a:{b64(b'short')}", "32 bytes"),
    ]:
        monkeypatch.setenv("ASGI_GUARD_SEALING_KEYS", text)
        with pytest.raises(ConfigurationError, match=match) as caught:
            SealingKeyRing.from_env()
        assert secretish not in str(caught.value)
        assert b64(KEY_A) not in str(caught.value)
    monkeypatch.delenv("ASGI_GUARD_SEALING_KEYS")
    with pytest.raises(ConfigurationError, match="unset"):
        SealingKeyRing.from_env()
    with pytest.raises(ConfigurationError, match="readable key file"):
        SealingKeyRing.from_file("/nonexistent/asgi-guard-keys")


def test_no_key_or_plaintext_in_repr_or_errors() -> None:
    """repr shows kids only; refusal messages carry neither the plaintext nor the value."""
    assert repr(RING) == "SealingKeyRing(kids=['a'], current='a')"
    assert b64(KEY_A) not in repr(RING)
    assert KEY_A.hex() not in repr(RING)
    sealed = RING.seal(b"plaintext-token", context=b"ctx")
    with pytest.raises(SealedValueError) as caught:
        RING.open(sealed, context=b"other")
    assert "plaintext-token" not in str(caught.value)
    assert sealed not in str(caught.value)
    assert sealed.split(".")[2] not in str(caught.value)


def test_needs_reseal_refuses_malformed_values() -> None:
    """needs_reseal is asked of stored values; a corrupt one is reported, not guessed."""
    assert not RING.needs_reseal(RING.seal(b"x"))
    with pytest.raises(SealedValueError):
        RING.needs_reseal("plaintext")


def test_non_canonical_base64_is_refused() -> None:
    """Unused trailing bits changed still decode to the same bytes in Python: refuse them anyway."""
    sealed = RING.seal(b"x")  # 24 + 1 + 16 = 41 bytes: the last character carries 2 unused bits
    head, last = sealed[:-1], sealed[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]
    with pytest.raises(SealedValueError, match="canonical"):
        RING.open(head + twin)
