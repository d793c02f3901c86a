"""The generic HMAC-SHA256 schemes: the plain body signature and the recommended timestamped variant.

``GenericHMAC`` signs the raw body only (``X-Webhook-Signature: sha256=<hex>``, prefix optional), so
it cannot tell a replay from a new delivery. ``TimestampedHMAC`` signs ``<timestamp>.<body>``
(Unix seconds in ``X-Webhook-Timestamp``), refuses timestamps outside the tolerance window and
deduplicates within it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError
from asgi_guard.webhooks._base import (
    HMACCheck,
    Verified,
    Verifier,
    check_fresh,
    check_secrets,
    check_window,
    header,
    hmac_matches,
    replay_key,
    unhex,
    unix_seconds,
)

if TYPE_CHECKING:
    from asgi_guard.types import Scope

PREFIX: Final = b"sha256="


def _header_name(value: object, where: str) -> bytes:
    if not isinstance(value, str) or not value or value != value.lower() or not value.isascii():
        raise ConfigurationError.expected("a non-empty lower-case ASCII header name", value, where)
    return value.encode("ascii")


def _signature(raw: bytes) -> bytes:
    return unhex(raw[len(PREFIX) :] if raw.startswith(PREFIX) else raw)


class GenericHMAC(Verifier, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Hex HMAC-SHA256 of the raw body in one header (no replay protection: prefer the timestamped variant).

    Attributes:
        secrets: shared secrets; any of them verifies (several at once for rotation).
        signature_header: the header carrying ``[sha256=]<hex>`` (lower-case).
    """

    secrets: list[str] | tuple[str, ...]
    signature_header: str = "x-webhook-signature"

    provider: ClassVar[str] = "generic"

    def __post_init__(self) -> None:
        self._check_common()
        check_secrets(self.secrets, "GenericHMAC.secrets")
        _header_name(self.signature_header, "GenericHMAC.signature_header")

    def build(self) -> _GenericCheck:
        return _GenericCheck(self)


class _GenericCheck(HMACCheck):
    __slots__ = ("signature_header",)

    def __init__(self, config: GenericHMAC) -> None:
        super().__init__(config, check_secrets(config.secrets, "GenericHMAC.secrets"), window=0.0)
        self.signature_header = config.signature_header.encode("ascii")

    def verify(self, scope: Scope, body: bytes, now: float) -> Verified:
        signature = _signature(header(scope, self.signature_header))
        if not hmac_matches(self.keys, body, (signature,)):
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_mismatch")
        return Verified("", None)


class TimestampedHMAC(Verifier, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Hex HMAC-SHA256 of ``<timestamp>.<body>``, with a tolerance window and dedupe inside it.

    Attributes:
        secrets: shared secrets; any of them verifies (several at once for rotation).
        signature_header: the header carrying ``[sha256=]<hex>`` (lower-case).
        timestamp_header: the header carrying Unix seconds (lower-case).
        tolerance: seconds a timestamp may lie in the past or the future.
    """

    secrets: list[str] | tuple[str, ...]
    signature_header: str = "x-webhook-signature"
    timestamp_header: str = "x-webhook-timestamp"
    tolerance: float = 300.0

    provider: ClassVar[str] = "generic_timestamped"

    def __post_init__(self) -> None:
        self._check_common()
        check_secrets(self.secrets, "TimestampedHMAC.secrets")
        _header_name(self.signature_header, "TimestampedHMAC.signature_header")
        _header_name(self.timestamp_header, "TimestampedHMAC.timestamp_header")
        check_window(self.tolerance, "TimestampedHMAC.tolerance")

    def build(self) -> _TimestampedCheck:
        return _TimestampedCheck(self)


class _TimestampedCheck(HMACCheck):
    __slots__ = ("signature_header", "timestamp_header")

    def __init__(self, config: TimestampedHMAC) -> None:
        keys = check_secrets(config.secrets, "TimestampedHMAC.secrets")
        super().__init__(config, keys, tolerance=config.tolerance)
        self.signature_header = config.signature_header.encode("ascii")
        self.timestamp_header = config.timestamp_header.encode("ascii")

    def verify(self, scope: Scope, body: bytes, now: float) -> Verified:
        raw_signature = header(scope, self.signature_header)
        raw_timestamp = header(scope, self.timestamp_header)
        check_fresh(unix_seconds(raw_timestamp), now, self.tolerance)
        signature = _signature(raw_signature)
        if not hmac_matches(self.keys, raw_timestamp + b"." + body, (signature,)):
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_mismatch")
        return Verified("", replay_key(self.provider, raw_timestamp, signature))


__all__ = ("GenericHMAC", "TimestampedHMAC")
