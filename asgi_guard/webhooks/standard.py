"""Standard Webhooks (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).

The sender signs ``<webhook-id>.<webhook-timestamp>.<raw body>`` with HMAC-SHA256 keyed with the
base64-decoded part of a ``whsec_`` secret, and sends space-separated ``v1,<base64>`` entries in
``webhook-signature`` (several during rotation; other versions are ignored). Timestamps more than
five minutes away in either direction are refused, and ``webhook-id`` (signed) is deduplicated.

Svix, the most used sender, signs the same way but names the headers ``svix-id``, ``svix-timestamp``
and ``svix-signature``; either family is accepted, never a mix of the two in one request (a mix is
refused before any signature is checked, so no header can be taken from one family and the
signature from the other).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, ClassVar, Final

from asgi_guard._headers import get_header
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
SVIX_ID: Final = b"svix-id"
SVIX_TIMESTAMP: Final = b"svix-timestamp"
SVIX_SIGNATURE: Final = b"svix-signature"
_STANDARD: Final = (ID, TIMESTAMP, SIGNATURE)
_SVIX: Final = (SVIX_ID, SVIX_TIMESTAMP, SVIX_SIGNATURE)
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
        # One spelling per signature: base64 ignores the unused low bits of the last character, so
        # `...1OE=` and `...1OF=` decode alike; a non-canonical spelling is not a signature we sent.
        if len(decoded) == 32 and base64.b64encode(decoded) == value:
            found.append(decoded)
            if len(found) == MAX_SIGNATURES:
                break
    return found


def header_family(scope: Scope) -> tuple[bytes, bytes, bytes]:
    """``(id, timestamp, signature)`` header names of the family this request uses.

    Raises:
        GuardError: ``invalid_signature`` when headers of both families are present.
    """
    standard = any(get_header(scope, name) is not None for name in _STANDARD)
    svix = any(get_header(scope, name) is not None for name in _SVIX)
    if standard and svix:
        raise GuardError(ErrorCode.INVALID_SIGNATURE, "mixed_webhook_and_svix_headers")
    return _SVIX if svix else _STANDARD


class StandardWebhooks(Verifier, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Standard Webhooks verification, with ``webhook-*`` or Svix's ``svix-*`` header names.

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
        super().__init__(config, _keys(config.secrets), tolerance=config.tolerance, id_headers=(ID, SVIX_ID))

    def verify(self, scope: Scope, body: bytes, now: float) -> Verified:
        id_name, timestamp_name, signature_name = header_family(scope)
        raw_signature = header(scope, signature_name)
        delivery = message_id(scope, id_name)
        raw_timestamp = header(scope, timestamp_name)
        check_fresh(unix_seconds(raw_timestamp), now, self.tolerance)
        signatures = parse_signatures(raw_signature)
        if not signatures:
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "no_v1_signature")
        wire_id = delivery.encode("ascii")
        if not hmac_matches(self.keys, wire_id + b"." + raw_timestamp + b"." + body, signatures):
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_mismatch")
        # One key whichever family carried it: the same message re-sent under the other names is a replay.
        return Verified(delivery, replay_key(self.provider, wire_id))


__all__ = ("StandardWebhooks", "decode_secret", "header_family", "parse_signatures")
