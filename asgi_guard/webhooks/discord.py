"""Discord interactions (https://discord.com/developers/docs/interactions/overview, "Setting up an
endpoint" and "Security and authorization").

Discord signs ``X-Signature-Timestamp + raw body`` with Ed25519 and sends the hex signature in
``X-Signature-Ed25519``; the application's public key verifies it (PyNaCl). Discord probes endpoints
with bad signatures and expects **401** for every failure, so every refusal here is a 401. A PING
(``{"type": 1}``) is answered inline with ``{"type": 1}`` (PONG) when enabled.
"""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING, Any, ClassVar, Final

import msgspec
from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError
from asgi_guard.webhooks._base import (
    Reply,
    Verified,
    Verifier,
    check_fresh,
    check_window,
    header,
    replay_key,
    unhex,
    unix_seconds,
)

if TYPE_CHECKING:
    from asgi_guard.types import Scope

SIGNATURE: Final = b"x-signature-ed25519"
TIMESTAMP: Final = b"x-signature-timestamp"
PING: Final = 1
PONG: Final = b'{"type":1}'


class _Interaction(msgspec.Struct):
    type: int = 0


_decode_interaction: Final = msgspec.json.Decoder(_Interaction).decode


def _verify_keys(public_keys: Any) -> tuple[VerifyKey, ...]:
    where = "DiscordInteractions.public_keys"
    if isinstance(public_keys, (str, bytes)) or not isinstance(public_keys, (list, tuple)) or not public_keys:
        raise ConfigurationError.expected("a non-empty list of hex public keys", public_keys, where)
    keys = []
    for index, value in enumerate(public_keys):
        try:
            raw = binascii.unhexlify(value) if isinstance(value, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ConfigurationError.expected("a 64-character hex Ed25519 public key", value, f"{where}[{index}]")
        keys.append(VerifyKey(raw))
    return tuple(keys)


class DiscordInteractions(Verifier, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Discord interaction endpoint verification.

    Attributes:
        public_keys: the application's hex public key(s) from the Developer Portal; any verifies.
        answer_ping: answer PING interactions with PONG without calling the app.
        tolerance: seconds ``X-Signature-Timestamp`` may be old or ahead, and the dedupe window;
            ``None`` disables both (Discord's own libraries do not check the timestamp).
    """

    public_keys: list[str] | tuple[str, ...]
    answer_ping: bool = True
    tolerance: float | None = 300.0

    provider: ClassVar[str] = "discord"

    def __post_init__(self) -> None:
        self._check_common()
        _verify_keys(self.public_keys)
        if self.tolerance is not None:
            check_window(self.tolerance, "DiscordInteractions.tolerance")

    def build(self) -> _DiscordCheck:
        return _DiscordCheck(self)


class _DiscordCheck:
    __slots__ = ("answer_ping", "id_headers", "keys", "provider", "tolerance", "window")

    def __init__(self, config: DiscordInteractions) -> None:
        self.provider = config.provider
        self.id_headers: tuple[bytes, ...] = ()
        self.keys = _verify_keys(config.public_keys)
        self.answer_ping = config.answer_ping
        self.tolerance = None if config.tolerance is None else float(config.tolerance)
        self.window = 0.0 if self.tolerance is None else 2 * self.tolerance

    def verify(self, scope: Scope, body: bytes, now: float) -> Verified:
        # Discord's probes expect 401 for any failure: every refusal of the shared helpers is one
        # (tests/webhooks/test_malformed_headers.py holds every scheme to it).
        signature = unhex(header(scope, SIGNATURE), 64)
        timestamp = header(scope, TIMESTAMP)
        if self.tolerance is not None:
            check_fresh(unix_seconds(timestamp), now, self.tolerance)
        message = timestamp + body
        for key in self.keys:
            try:
                key.verify(message, signature)
            except CryptoError:
                continue
            break
        else:
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_mismatch")
        # Ed25519 as libsodium verifies it is not malleable: the signature identifies the message.
        dedupe = replay_key(self.provider, signature) if self.tolerance is not None else None
        return Verified("", dedupe, self._reply(body))

    def _reply(self, body: bytes) -> Reply | None:
        if not self.answer_ping:
            return None
        try:
            interaction = _decode_interaction(body)
        except msgspec.DecodeError:
            return None  # not an interaction object: the app decides what to answer
        if interaction.type == PING:
            return Reply(200, b"application/json", PONG, "ping")
        return None


__all__ = ("DiscordInteractions",)
