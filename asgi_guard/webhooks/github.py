"""GitHub webhooks (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).

GitHub sends ``sha256=<hex>`` of the HMAC-SHA256 of the raw body in ``X-Hub-Signature-256`` (the
SHA-1 ``X-Hub-Signature`` is legacy and ignored). Deliveries carry a GUID in ``X-GitHub-Delivery``,
but GitHub does not sign it, so deliveries are deduplicated on the body's signature for
``dedupe_window`` seconds: a replay under a rewritten GUID is still caught. Without a signed
timestamp, nothing stops a replay after the window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.webhooks._base import (
    HMACCheck,
    OnReplay,
    Verified,
    Verifier,
    check_secrets,
    check_window,
    header,
    hmac_matches,
    message_id,
    replay_key,
    unhex,
)

if TYPE_CHECKING:
    from asgi_guard.types import Scope

SIGNATURE: Final = b"x-hub-signature-256"
DELIVERY: Final = b"x-github-delivery"
PREFIX: Final = b"sha256="


class GitHub(Verifier, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """GitHub webhook verification.

    Attributes:
        secrets: the webhook secret(s); any verifies.
        dedupe_window: seconds a delivery (its body signature) is remembered.
        on_replay: GitHub re-delivers, so a duplicate is acknowledged by default.
    """

    secrets: list[str] | tuple[str, ...]
    dedupe_window: float = 3600.0
    on_replay: OnReplay = "acknowledge"

    provider: ClassVar[str] = "github"

    def __post_init__(self) -> None:
        self._check_common()
        check_secrets(self.secrets, "GitHub.secrets")
        check_window(self.dedupe_window, "GitHub.dedupe_window")

    def build(self) -> _GitHubCheck:
        return _GitHubCheck(self)


class _GitHubCheck(HMACCheck):
    __slots__ = ()

    def __init__(self, config: GitHub) -> None:
        keys = check_secrets(config.secrets, "GitHub.secrets")
        super().__init__(config, keys, id_headers=(DELIVERY,), window=config.dedupe_window)

    def verify(self, scope: Scope, body: bytes, now: float) -> Verified:
        raw_signature = header(scope, SIGNATURE)
        if not raw_signature.startswith(PREFIX):
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_without_sha256_prefix")
        signature = unhex(raw_signature[len(PREFIX) :])
        if not hmac_matches(self.keys, body, (signature,)):
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_mismatch")
        delivery = message_id(scope, DELIVERY)
        # GitHub signs the body only: the delivery GUID is the client's word, so a captured delivery
        # re-sent under a fresh GUID must still be a replay. The signature (HMAC of the body) is not.
        return Verified(delivery, replay_key(self.provider, signature))


__all__ = ("GitHub",)
