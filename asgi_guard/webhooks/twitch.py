"""Twitch EventSub webhooks (https://dev.twitch.tv/docs/eventsub/handling-webhook-events/).

Twitch signs ``message id + timestamp + raw body`` with HMAC-SHA256 and sends ``sha256=<hex>`` in
``Twitch-Eventsub-Message-Signature``. The timestamp header's bytes are signed exactly as received
(RFC 3339 with nanoseconds); messages older than 10 minutes are refused to stop replays, and so are
messages as far in the future. Message ids are signed, so deduplicating on them is sound; Twitch
resends deliveries it is unsure about, so a duplicate is acknowledged (200) by default.
"""

from __future__ import annotations

import calendar
import re
from typing import TYPE_CHECKING, ClassVar, Final

import msgspec

from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.webhooks._base import (
    HMACCheck,
    OnReplay,
    Reply,
    Verified,
    Verifier,
    check_fresh,
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

MESSAGE_ID: Final = b"twitch-eventsub-message-id"
MESSAGE_TIMESTAMP: Final = b"twitch-eventsub-message-timestamp"
MESSAGE_SIGNATURE: Final = b"twitch-eventsub-message-signature"
MESSAGE_TYPE: Final = b"twitch-eventsub-message-type"
PREFIX: Final = b"sha256="

_RFC3339: Final = re.compile(
    rb"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_rfc3339(raw: bytes) -> float:
    """Epoch seconds of an RFC 3339 timestamp (fractions up to nanoseconds, ``Z`` or an offset).

    Raises:
        GuardError: ``invalid_signature`` for anything else, including impossible dates (a
            malformed signature-related header is a 401 in every scheme).
    """
    found = _RFC3339.fullmatch(raw)
    if found is None:
        raise GuardError(ErrorCode.INVALID_SIGNATURE, "timestamp_not_rfc3339")
    year, month, day, hour, minute, second = (int(found.group(index)) for index in range(1, 7))
    # Year 0 parses but has no calendar date (``timegm`` raises ValueError): it is malformed like the rest.
    if not (
        year >= 1 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hour < 24 and minute < 60
    ):
        raise GuardError(ErrorCode.INVALID_SIGNATURE, "timestamp_not_rfc3339")
    if second > 60:  # 60 is a leap second, which RFC 3339 allows
        raise GuardError(ErrorCode.INVALID_SIGNATURE, "timestamp_not_rfc3339")
    epoch = float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))
    fraction = found.group(7)
    if fraction:
        epoch += int(fraction) / 10 ** len(fraction)
    if found.group(8) is None:
        offset = int(found.group(10)) * 3600 + int(found.group(11)) * 60
        epoch -= offset if found.group(9) == b"+" else -offset
    return epoch


class _Challenge(msgspec.Struct):
    challenge: str


_decode_challenge: Final = msgspec.json.Decoder(_Challenge).decode


class TwitchEventSub(Verifier, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Twitch EventSub webhook verification.

    Attributes:
        secrets: the subscription secrets (10-100 ASCII characters each, per Twitch); any verifies.
        tolerance: seconds a message timestamp may be old (or ahead); Twitch says 10 minutes.
        answer_challenge: answer ``webhook_callback_verification`` with the challenge (``text/plain``,
            200) without calling the app.
        acknowledge_revocation: answer ``revocation`` messages with 204 without calling the app (a
            security event records the revoked subscription type).
        on_replay: Twitch retries, so a duplicate is acknowledged by default.
    """

    secrets: list[str] | tuple[str, ...]
    tolerance: float = 600.0
    answer_challenge: bool = True
    acknowledge_revocation: bool = True
    on_replay: OnReplay = "acknowledge"

    provider: ClassVar[str] = "twitch"

    def __post_init__(self) -> None:
        self._check_common()
        check_secrets(self.secrets, "TwitchEventSub.secrets")
        check_window(self.tolerance, "TwitchEventSub.tolerance")

    def build(self) -> _TwitchCheck:
        return _TwitchCheck(self)


class _TwitchCheck(HMACCheck):
    __slots__ = ("acknowledge_revocation", "answer_challenge")

    def __init__(self, config: TwitchEventSub) -> None:
        keys = check_secrets(config.secrets, "TwitchEventSub.secrets")
        super().__init__(config, keys, tolerance=config.tolerance, id_headers=(MESSAGE_ID,))
        self.answer_challenge = config.answer_challenge
        self.acknowledge_revocation = config.acknowledge_revocation

    def verify(self, scope: Scope, body: bytes, now: float) -> Verified:
        raw_signature = header(scope, MESSAGE_SIGNATURE)
        delivery = message_id(scope, MESSAGE_ID)
        raw_timestamp = header(scope, MESSAGE_TIMESTAMP)
        check_fresh(parse_rfc3339(raw_timestamp), now, self.tolerance)
        if not raw_signature.startswith(PREFIX):
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_without_sha256_prefix")
        signature = unhex(raw_signature[len(PREFIX) :])
        if not hmac_matches(self.keys, delivery.encode("ascii") + raw_timestamp + body, (signature,)):
            raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_mismatch")
        return Verified(delivery, replay_key(self.provider, delivery.encode("ascii")), self._reply(scope, body))

    def _reply(self, scope: Scope, body: bytes) -> Reply | None:
        kind = header(scope, MESSAGE_TYPE)
        if kind == b"webhook_callback_verification" and self.answer_challenge:
            try:
                challenge = _decode_challenge(body).challenge
            except msgspec.DecodeError:
                raise GuardError(ErrorCode.MALFORMED_REQUEST, "challenge_body_invalid") from None
            return Reply(200, b"text/plain", challenge.encode("utf-8"), "challenge")
        if kind == b"revocation" and self.acknowledge_revocation:
            return Reply(204, b"", b"", "revocation")
        return None


__all__ = ("TwitchEventSub", "parse_rfc3339")
