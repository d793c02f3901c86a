"""Encryption at rest: a ring of 32-byte keys that seals secrets before they reach a database.

A sealed value is the text ``v1.<kid>.<base64url(nonce || ciphertext)>``. The cipher is libsodium's
XChaCha20-Poly1305 AEAD through PyNaCl's bindings (the same primitive family as ``SecretBox``, with
a 24-byte random nonce) because it authenticates *associated data*: the version, the key id and a
caller ``context`` such as ``b"provider_token:<user>:<provider>"``. A ciphertext copied into another
row, relabelled with another kid, or opened under another context fails authentication.

The key id travels with the ciphertext, so several keys can be held at once: the *current* key seals,
every key opens, and :meth:`SealingKeyRing.needs_reseal` finds what an older key sealed. Keys come
from the environment or a file (``kid:<base64 of 32 bytes>``, the last entry is current), never from
a command line. Neither messages nor ``repr`` ever contain a key or a plaintext.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import TYPE_CHECKING, Final

from nacl import bindings, utils
from nacl.exceptions import CryptoError

from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

KEY_BYTES: Final = bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
NONCE_BYTES: Final = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
TAG_BYTES: Final = bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES
VERSION: Final = "v1"
DEFAULT_ENV: Final = "ASGI_GUARD_SEALING_KEYS"
KID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_AAD_PREFIX: Final = b"asgi_guard.sealing.v1\x00"
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]+")


class SealedValueError(ValueError):
    """A sealed value cannot be opened: malformed, unknown key id, tampered, or the wrong context.

    The message names the cause only; it never carries the value, the plaintext or a key.
    """


def _aad(kid: str, context: bytes) -> bytes:
    # kid matches KID_PATTERN (no NUL), so "kid NUL context" is unambiguous.
    return _AAD_PREFIX + kid.encode("ascii") + b"\x00" + context


class SealingKeyRing:
    """Keys that seal and open secrets; the ``current`` key seals, any held key opens.

    Args:
        keys: key id -> 32 raw key bytes. Key ids are 1-32 characters of ``[A-Za-z0-9_-]``.
        current: the key id that seals new values.

    Raises:
        ConfigurationError: no keys, a bad key id, a key that is not 32 bytes, or an unknown ``current``.
    """

    __slots__ = ("_keys", "current_kid")

    def __init__(self, keys: Mapping[str, bytes], *, current: str) -> None:
        if not keys:
            raise ConfigurationError.expected("at least one key", "<none>", "SealingKeyRing.keys")
        held: dict[str, bytes] = {}
        for kid, key in keys.items():
            if not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid):
                raise ConfigurationError.expected("a kid of 1-32 [A-Za-z0-9_-]", kid, "SealingKeyRing.keys")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                size = len(key) if isinstance(key, bytes) else type(key).__name__
                raise ConfigurationError.expected(f"a key of {KEY_BYTES} bytes", size, f"SealingKeyRing.keys[{kid}]")
            held[kid] = key
        if current not in held:
            raise ConfigurationError.expected(f"one of {sorted(held)}", current, "SealingKeyRing.current")
        self._keys = held
        self.current_kid = current

    @classmethod
    def parse(cls, text: str, *, source: str = "sealing keys") -> SealingKeyRing:
        """A ring from ``kid:<base64>`` entries separated by commas or newlines; the last is current.

        Raises:
            ConfigurationError: empty text, a malformed entry or a duplicate kid (the key is never quoted).
        """
        stripped = (entry.strip() for entry in re.split(r"[,\n]", text))
        entries = [entry for entry in stripped if entry and not entry.startswith("#")]
        if not entries:
            raise ConfigurationError.expected("at least one `kid:<base64 key>` entry", "<empty>", source)
        keys: dict[str, bytes] = {}
        for index, entry in enumerate(entries):
            kid, sep, encoded = entry.partition(":")
            kid = kid.strip()
            # Checked here, by position: an entry written the wrong way round would put the key where
            # the kid goes, and the ring's own check quotes the kid.
            if not sep or not KID_PATTERN.fullmatch(kid):
                raise ConfigurationError.expected(
                    "`kid:<base64 key>` with a kid of 1-32 [A-Za-z0-9_-]", f"<entry {index}>", source
                )
            if kid in keys:
                raise ConfigurationError.expected("a unique kid", f"<entry {index}>", source)
            try:
                keys[kid] = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ConfigurationError.expected("standard base64", f"<entry {index}>", source) from exc
        return cls(keys, current=kid)

    @classmethod
    def from_env(cls, var: str = DEFAULT_ENV) -> SealingKeyRing:
        """The ring held in the environment variable ``var`` (``kid1:<b64>,kid2:<b64>``; the last is current).

        Raises:
            ConfigurationError: the variable is unset or malformed.
        """
        text = os.environ.get(var)
        if text is None:
            raise ConfigurationError.expected("the variable to be set", "<unset>", f"${var}")
        return cls.parse(text, source=f"${var}")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SealingKeyRing:
        """The ring in a file, one ``kid:<b64>`` per line (``#`` comments allowed); the last is current.

        Raises:
            ConfigurationError: the file cannot be read or is malformed.
        """
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise ConfigurationError.expected(
                "a readable key file", os.fspath(path), "SealingKeyRing.from_file"
            ) from exc
        return cls.parse(text, source=os.fspath(path))

    @staticmethod
    def generate_key() -> str:
        """A new key: standard base64 of 32 random bytes."""
        return base64.b64encode(utils.random(KEY_BYTES)).decode("ascii")

    @property
    def kids(self) -> tuple[str, ...]:
        """Every key id held."""
        return tuple(self._keys)

    def seal(self, plaintext: bytes, *, context: bytes = b"") -> str:
        """Encrypt ``plaintext`` under the current key, bound to ``context``."""
        kid = self.current_kid
        nonce = utils.random(NONCE_BYTES)
        box = bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, _aad(kid, context), nonce, self._keys[kid])
        return f"{VERSION}.{kid}.{base64.urlsafe_b64encode(nonce + box).rstrip(b'=').decode('ascii')}"

    def open(self, sealed: str, *, context: bytes = b"") -> bytes:
        """Decrypt a value :meth:`seal` produced under the same ``context``.

        Raises:
            SealedValueError: malformed, sealed under a key this ring does not hold, tampered with,
                or sealed under another context.
        """
        kid, raw = self._split(sealed)
        key = self._keys.get(kid)
        if key is None:
            raise SealedValueError("sealed under an unknown key id")
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise SealedValueError("sealed value is truncated")
        try:
            plaintext: bytes = bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                raw[NONCE_BYTES:], _aad(kid, context), raw[:NONCE_BYTES], key
            )
        except CryptoError:
            raise SealedValueError("sealed value failed authentication (tampered, wrong key or context)") from None
        return plaintext

    def needs_reseal(self, sealed: str) -> bool:
        """Whether ``sealed`` was sealed under a key other than the current one.

        Raises:
            SealedValueError: the value is malformed.
        """
        return self._split(sealed)[0] != self.current_kid

    def reseal(self, sealed: str, *, context: bytes = b"") -> str:
        """``sealed`` opened and sealed again under the current key (the same context)."""
        return self.seal(self.open(sealed, context=context), context=context)

    @staticmethod
    def _split(sealed: str) -> tuple[str, bytes]:
        parts = sealed.split(".") if isinstance(sealed, str) else []
        if len(parts) != 3 or parts[0] != VERSION or not KID_PATTERN.fullmatch(parts[1]):
            raise SealedValueError("not a sealed value")
        body = parts[2]
        if not _B64URL.fullmatch(body):
            raise SealedValueError("sealed value is not base64url")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise SealedValueError("sealed value is not base64url") from None
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != body:  # one canonical text per value
            raise SealedValueError("sealed value is not canonical base64url")
        return parts[1], raw

    def __repr__(self) -> str:  # never show a key
        return f"SealingKeyRing(kids={list(self._keys)!r}, current={self.current_kid!r})"


__all__ = ("DEFAULT_ENV", "KEY_BYTES", "SealedValueError", "SealingKeyRing")
