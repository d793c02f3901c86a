"""Stripe webhook signatures (https://docs.stripe.com/webhooks#verify-manually).

``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]``: each ``v1`` is the hex HMAC-SHA256 of
``<t>.<raw body>`` keyed with the endpoint secret as given, ``whsec_`` prefix included (Stripe does
not decode it). Several ``v1`` entries appear while Stripe rolls a secret; any match verifies and
other schemes are ignored. Timestamps more than ``tolerance`` (300 s) away are refused; dedupe keys
on the timestamp and the matching signature (Stripe re-signs retries, so event-id dedupe stays the
app's job).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

from asgi_guard.errors import ErrorCode, GuardError
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

SIGNATURE: Final = b"stripe-signature"
MAX_SIGNATURES: Final = 16


def parse_stripe_header(raw: bytes) -> tuple[bytes, list[bytes]]:
    """Split ``Stripe-Signature`` into the raw timestamp and the decoded ``v1`` signatures.

    Raises:
        GuardError: ``invalid_signature`` for no or several ``t``, or when no well-formed ``v1``
            entry is present.
    """
    timestamps: list[bytes] = []
    signatures: list[bytes] = []
    for item in raw.split(b","):
        key, sep, value = item.strip().partition(b"=")
        if not sep:
            continue
        if key == b"t":
            timestamps.append(value)
        elif key == b"v1" and len(signatures) < MAX_SIGNATURES:
            try:
                signatures.append(unhex(value))
            except GuardError:
                continue  # a malformed entry simply matches nothing, as in Stripe's libraries
    if len(timestamps) != 1:
        raise GuardError(ErrorCode.INVALID_SIGNATURE, "stripe_header_needs_one_timestamp")
    if not signatures:
        raise GuardError(ErrorCode.INVALID_SIGNATURE, "no_v1_signature")
    return timestamps[0], signatures


class Stripe(Verifier, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Stripe webhook verification.

    Attributes:
        secrets: endpoint signing secret(s), the whole ``whsec_...`` string; any verifies.
        tolerance: seconds the timestamp may be old or ahead (Stripe's libraries: 300).
    """

    secrets: list[str] | tuple[str, ...]
    tolerance: float = 300.0

    provider: ClassVar[str] = "stripe"

    def __post_init__(self) -> None:
        self._check_common()
        check_secrets(self.secrets, "Stripe.secrets")
        check_window(self.tolerance, "Stripe.tolerance")

    def build(self) -> _StripeCheck:
        return _StripeCheck(self)


class _StripeCheck(HMACCheck):
    __slots__ = ()

    def __init__(self, config: Stripe) -> None:
        super().__init__(config, check_secrets(config.secrets, "Stripe.secrets"), tolerance=config.tolerance)

    def verify(self, scope: Scope, body: bytes, now: float) -> Verified:
        raw_timestamp, signatures = parse_stripe_header(header(scope, SIGNATURE))
        check_fresh(unix_seconds(raw_timestamp), now, self.tolerance)
        message = raw_timestamp + b"." + body
        for signature in signatures:
            if hmac_matches(self.keys, message, (signature,)):
                # Keyed on what was signed, not on the matching signature: during a secret rotation a
                # delivery carries one valid v1 per secret, and reordering them must not make it new.
                return Verified("", replay_key(self.provider, message))
        raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_mismatch")


__all__ = ("Stripe", "parse_stripe_header")
