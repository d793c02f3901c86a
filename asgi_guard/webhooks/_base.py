"""What every signature scheme shares: the verifier base, its result, and hostile-input-safe parsing.

A verifier is configuration (a frozen ``msgspec.Struct``). :meth:`Verifier.build` turns it into a
:class:`Check` once, at middleware construction, so encoded keys and header names are derived a
single time and the request path only computes and compares.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, NamedTuple, Protocol

import msgspec

from asgi_guard._headers import get_unique
from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from asgi_guard.types import Scope

OnReplay = Literal["reject", "acknowledge"]
"""``reject``: answer a replay with 409 ``replayed_message``; ``acknowledge``: answer 200 without
calling the app (for providers that retry deliveries they are unsure about)."""

FailMode = Literal["closed", "open"]
"""What to do when the replay store is unreachable: ``closed`` answers 503, ``open`` skips dedupe."""

MAX_HEADER_BYTES: Final = 4096
"""Longest signature-related header accepted; longer values are refused before any parsing."""

_MESSAGE_ID: Final = re.compile(rb"[\x21-\x7e]{1,256}")
"""Delivery ids: 1-256 visible ASCII characters (they become store keys and log fields)."""


class Reply(NamedTuple):
    """An answer the middleware sends itself instead of calling the app (challenges, PINGs, acks)."""

    status: int
    content_type: bytes
    body: bytes
    kind: str


class Verified(NamedTuple):
    """A request whose signature checked out.

    Attributes:
        message_id: the provider's delivery id ("" when the scheme has none).
        replay_key: what to deduplicate on (``None``: nothing to deduplicate).
        reply: answer this inline instead of calling the app.
    """

    message_id: str
    replay_key: bytes | None
    reply: Reply | None = None


class Check(Protocol):
    """A compiled verifier: everything derived, ready for the request path."""

    provider: str
    id_headers: tuple[bytes, ...]
    window: float

    def verify(self, scope: Scope, body: bytes, now: float) -> Verified:
        """Verify one request or raise :class:`GuardError` (never anything else)."""
        ...


class Verifier(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Options every scheme shares.

    Attributes:
        on_replay: answer to a delivery seen before (see :data:`OnReplay`).
        replay_fail_mode: what to do when the replay store is down (see :data:`FailMode`).
    """

    on_replay: OnReplay = "reject"
    replay_fail_mode: FailMode = "closed"

    provider: ClassVar[str] = ""

    def _check_common(self) -> None:
        name = type(self).__name__
        if self.on_replay not in ("reject", "acknowledge"):
            raise ConfigurationError.expected("`reject` or `acknowledge`", self.on_replay, f"{name}.on_replay")
        if self.replay_fail_mode not in ("closed", "open"):
            raise ConfigurationError.expected("`closed` or `open`", self.replay_fail_mode, f"{name}.replay_fail_mode")

    def build(self) -> Check:
        """Compile this verifier (called once by the middleware)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        # Never the secrets or keys: configs end up in error messages, tracebacks and debug logs.
        return f"{type(self).__name__}(provider={self.provider!r}, secrets=<redacted>)"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [("provider", self.provider)]


class HMACCheck:
    """What every compiled shared-secret check holds, set up once.

    ``tolerance`` is how far a timestamp may lie in the past or the future, so a signed message stays
    acceptable (and is remembered for dedupe) over ``window = 2 * tolerance`` unless a scheme says
    otherwise. ``id_headers`` name the delivery id quoted in refusal events (the first present).
    """

    __slots__ = ("id_headers", "keys", "provider", "tolerance", "window")

    def __init__(
        self,
        config: Verifier,
        keys: tuple[bytes, ...],
        *,
        tolerance: float = 0.0,
        id_headers: tuple[bytes, ...] = (),
        window: float | None = None,
    ) -> None:
        self.provider = config.provider
        self.keys = keys
        self.id_headers = id_headers
        self.tolerance = float(tolerance)
        self.window = 2 * self.tolerance if window is None else float(window)


def check_secrets(secrets: Any, where: str) -> tuple[bytes, ...]:
    """Validate a list of secrets (several at once for rotation) and encode them as HMAC keys."""
    if isinstance(secrets, (str, bytes)) or not isinstance(secrets, (list, tuple)):
        raise ConfigurationError.expected("a list of secrets", type(secrets).__name__, where)
    if not secrets:
        raise ConfigurationError.expected("at least one secret", "[]", where)
    keys = []
    for index, secret in enumerate(secrets):
        if not isinstance(secret, str) or not secret:
            raise ConfigurationError.expected("a non-empty string", type(secret).__name__, f"{where}[{index}]")
        keys.append(secret.encode("utf-8"))
    return tuple(keys)


def check_window(seconds: Any, where: str) -> None:
    """Tolerance windows are positive numbers of seconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 86_400:
        raise ConfigurationError.expected("a number of seconds in (0, 86400]", seconds, where)


def header(scope: Scope, name: bytes) -> bytes:
    """A signature-related header: present once, of sane size.

    Every malformed signature-related header is a 401 ``invalid_signature`` in every scheme (never a
    400): the request cannot be verified, whatever part of it is broken.

    Raises:
        GuardError: ``missing_signature`` when absent, ``invalid_signature`` when duplicated,
            oversized or empty.
    """
    try:
        value = get_unique(scope, name)
    except GuardError:
        raise GuardError(ErrorCode.INVALID_SIGNATURE, f"duplicate_header:{name.decode('latin-1')}") from None
    if value is None:
        raise GuardError(ErrorCode.MISSING_SIGNATURE, f"missing_header:{name.decode('latin-1')}")
    if not value or len(value) > MAX_HEADER_BYTES:
        raise GuardError(ErrorCode.INVALID_SIGNATURE, f"bad_header_size:{name.decode('latin-1')}")
    return value


def message_id(scope: Scope, name: bytes) -> str:
    """A delivery id header, checked to be short printable ASCII (it becomes a store key and a log field)."""
    raw = header(scope, name)
    if _MESSAGE_ID.fullmatch(raw) is None:
        raise GuardError(ErrorCode.INVALID_SIGNATURE, f"bad_message_id:{name.decode('latin-1')}")
    return raw.decode("ascii")


def unix_seconds(raw: bytes) -> int:
    """Parse a Unix timestamp header: ASCII digits only (no sign, spaces, decimals or exponents)."""
    if not raw.isdigit() or len(raw) > 12:
        raise GuardError(ErrorCode.INVALID_SIGNATURE, "timestamp_not_unix_seconds")
    return int(raw)


def check_fresh(timestamp: float, now: float, tolerance: float) -> None:
    """Refuse timestamps older than ``tolerance`` or as far in the future (both replay and skew)."""
    if abs(now - timestamp) > tolerance:
        raise GuardError(ErrorCode.STALE_TIMESTAMP, "timestamp_outside_window")


def unhex(raw: bytes, size: int = 32) -> bytes:
    """Decode a hex signature of exactly ``size`` bytes (either case); anything else is invalid."""
    if len(raw) != size * 2:
        raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_wrong_length")
    try:
        return binascii.unhexlify(raw)
    except (binascii.Error, ValueError):
        raise GuardError(ErrorCode.INVALID_SIGNATURE, "signature_not_hex") from None


def hmac_matches(keys: Iterable[bytes], message: bytes, candidates: Sequence[bytes]) -> bool:
    """Whether any candidate equals HMAC-SHA256(key, message) for any key, compared in constant time."""
    for key in keys:
        expected = hmac.new(key, message, hashlib.sha256).digest()
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate):
                return True
    return False


def replay_key(provider: str, *parts: bytes) -> bytes:
    """A fixed-size store key for a delivery: the provider plus a digest of what identifies it."""
    digest = hashlib.sha256(b"\x00".join(parts)).hexdigest()[:40]
    return f"{provider}:{digest}".encode("ascii")


__all__ = (
    "MAX_HEADER_BYTES",
    "Check",
    "FailMode",
    "OnReplay",
    "Reply",
    "Verified",
    "Verifier",
    "check_fresh",
    "check_secrets",
    "check_window",
    "header",
    "hmac_matches",
    "message_id",
    "replay_key",
    "unhex",
    "unix_seconds",
)
