"""Slack request signing (https://api.slack.com/authentication/verifying-requests-from-slack).

Slack signs ``v0:<X-Slack-Request-Timestamp>:<raw body>`` with HMAC-SHA256 under the app's signing
secret and sends ``v0=<hex>`` in ``X-Slack-Signature``. Requests more than five minutes away from the
local clock are refused. Slack sends no delivery id, so dedupe keys on the signature inside the window.
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

SIGNATURE: Final = b"x-slack-signature"
TIMESTAMP: Final = b"x-slack-request-timestamp"
VERSION: Final = b"v0"


class Slack(Verifier, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Slack signed-request verification.

    Attributes:
        secrets: the app's signing secret(s); any verifies.
        tolerance: seconds the timestamp may be old or ahead (Slack: five minutes).
    """

    secrets: list[str] | tuple[str, ...]
    tolerance: float = 300.0

    provider: ClassVar[str] = "slack"

    def __post_init__(self) -> None:
        self._check_common()
        check_secrets(self.secrets, "Slack.secrets")
        check_window(self.tolerance, "Slack.tolerance")

    def build(self) -> _SlackCheck:
        return _SlackCheck(self)


class _SlackCheck(HMACCheck):
    __slots__ = ()

    def __init__(self, config: Slack) -> None:
        super().__init__(config, check_secrets(config.secrets, "Slack.secrets"), tolerance=config.tolerance)

    def verify(self, scope: Scope, body: bytes, now: float) -> Verified:
        raw_signature = header(scope, SIGNATURE)
        raw_timestamp = header(scope, TIMESTAMP)
        check_fresh(unix_seconds(raw_timestamp), now, self.tolerance)
        version, _, digest = raw_signature.partition(b"=")
        if version != VERSION:
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_version_not_v0")
        signature = unhex(digest)
        if not hmac_matches(self.keys, VERSION + b":" + raw_timestamp + b":" + body, (signature,)):
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_mismatch")
        return Verified("", replay_key(self.provider, raw_timestamp, signature))


__all__ = ("Slack",)
