"""Standard Webhooks (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).

The sender signs ``<webhook-id>.<webhook-timestamp>.<raw body>`` with HMAC-SHA256 keyed with the
base64-decoded part of a ``whsec_`` secret, and sends space-separated ``v1,<base64>`` entries in
``webhook-signature`` (several during rotation; other versions are ignored). Timestamps more than
five minutes away in either direction are refused, and ``webhook-id`` (signed) is deduplicated.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, ClassVar, Final

from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError
from asgi_guard.webhooks._base import (
    HMACCheck,
    OnReplay,
    Verified,
    Verifier,
    check_fresh,
    check_window,
    header,
    hmac_matches,
    message_id,
    replay_key,
    unix_seconds,
)

if TYPE_CHECKING:
    from asgi_guard.types import Scope

ID: Final = b"webhook-id"
TIMESTAMP: Final = b"webhook-timestamp"
SIGNATURE: Final = b"webhook-signature"
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a format prefix, not a secret
MAX_SIGNATURES: Final = 16


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64 after an optional ``whsec_`` prefix."""
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _keys(secrets: Any) -> tuple[bytes, ...]:
    where = "StandardWebhooks.secrets"
    if isinstance(secrets, (str, bytes)) or not isinstance(secrets, (list, tuple)) or not secrets:
        raise ConfigurationError.expected("a non-empty list of `whsec_` secrets", type(secrets).__name__, where)
    keys = []
    for index, secret in enumerate(secrets):
        key = decode_secret(secret) if isinstance(secret, str) else b""
        if not key:
            # never echo the secret itself into the error message
            raise ConfigurationError.expected("a base64 `whsec_...` secret", "<undecodable>", f"{where}[{index}]")
        keys.append(key)
    return tuple(keys)


def parse_signatures(raw: bytes) -> list[bytes]:
    """The decoded ``v1`` signatures of a ``webhook-signature`` header (malformed entries match nothing)."""
    found: list[bytes] = []
    for entry in raw.split(b" "):
        version, sep, value = entry.partition(b",")
        if not sep or version != b"v1":
            continue
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(decoded) == 32:
            found.append(decoded)
            if len(found) == MAX_SIGNATURES:
                break
    return found


class StandardWebhooks(Verifier, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Standard Webhooks verification (also Svix and the providers built on it).

    Attributes:
        secrets: ``whsec_<base64>`` secret(s); any verifies.
        tolerance: seconds the timestamp may be old or ahead (the spec: five minutes).
        on_replay: senders retry with the same ``webhook-id``, so a duplicate is acknowledged by default.
    """

    secrets: list[str] | tuple[str, ...]
    tolerance: float = 300.0
    on_replay: OnReplay = "acknowledge"

    provider: ClassVar[str] = "standard_webhooks"

    def __post_init__(self) -> None:
        self._check_common()
        _keys(self.secrets)
        check_window(self.tolerance, "StandardWebhooks.tolerance")

    def build(self) -> _StandardCheck:
        return _StandardCheck(self)


class _StandardCheck(HMACCheck):
    __slots__ = ()

    def __init__(self, config: StandardWebhooks) -> None:
        super().__init__(config, _keys(config.secrets), tolerance=config.tolerance, id_header=ID)

    def verify(self, scope: Scope, body: bytes, now: float) -> Verified:
        raw_signature = header(scope, SIGNATURE)
        delivery = message_id(scope, ID)
        raw_timestamp = header(scope, TIMESTAMP)
        check_fresh(unix_seconds(raw_timestamp), now, self.tolerance)
        signatures = parse_signatures(raw_signature)
        if not signatures:
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "no_v1_signature")
        wire_id = delivery.encode("ascii")
        if not hmac_matches(self.keys, wire_id + b"." + raw_timestamp + b"." + body, signatures):
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_mismatch")
        return Verified(delivery, replay_key(self.provider, wire_id))


__all__ = ("StandardWebhooks", "decode_secret", "parse_signatures")
