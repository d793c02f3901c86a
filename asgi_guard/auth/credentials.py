"""Reading the credentials a request carries: an API key header and/or an RFC 6750 bearer token.

Security headers must be unambiguous: a duplicated ``Authorization`` or API-key header, or two
*different* credentials in one request, is refused (400 ``malformed_request``) instead of letting
one layer read one value and another layer the other.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from asgi_guard._headers import get_unique
from asgi_guard._memo import Memo
from asgi_guard.errors import ErrorCode, GuardError

if TYPE_CHECKING:
    from asgi_guard.types import Scope

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; b64token = 1*( ALPHA / DIGIT / "-" / "." /
# "_" / "~" / "+" / "/" ) *"="
_B64TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_CREDENTIAL: Final = 8192
MEMO_LIMIT: Final = 1024
"""Parsed ``Authorization`` values remembered (cleared when full: a flood of fresh values only costs re-parsing)."""
MEMO_MAX_VALUE: Final = 2048
"""Values longer than this are never remembered (the memo stays a few megabytes at most)."""
_PARSED: Final[Memo[bytes, tuple[str, str | None]]] = Memo(MEMO_LIMIT)


class Credentials:
    """What one request presented.

    Attributes:
        api_key: the API key (from its header, or a bearer value shaped like a key), or ``None``.
        bearer: a bearer token that is not an API key, or ``None``.
        other_scheme: the scheme of an ``Authorization`` header that is not ``Bearer`` (left to
            user authenticators), or ``None``.
    """

    __slots__ = ("api_key", "bearer", "other_scheme")

    def __init__(self, api_key: str | None, bearer: str | None, other_scheme: str | None) -> None:
        self.api_key = api_key
        self.bearer = bearer
        self.other_scheme = other_scheme

    @property
    def present(self) -> bool:
        return self.api_key is not None or self.bearer is not None or self.other_scheme is not None


def parse_authorization(raw: bytes) -> tuple[str, str | None]:
    """Split an ``Authorization`` value into (lower-case scheme, bearer token or ``None``).

    Raises:
        GuardError: ``invalid_token`` for a ``Bearer`` value that is not a single b64token.
    """
    memo = type(raw) is bytes  # the same clients send the same header request after request
    found = _PARSED.get(raw) if memo else None
    if found is not None:
        return found
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise GuardError(ErrorCode.INVALID_TOKEN, "non_ascii_authorization") from exc
    scheme, _, rest = text.partition(" ")
    scheme = scheme.lower()
    parsed: tuple[str, str | None] = (scheme, None)
    if scheme == "bearer":
        token = rest.lstrip(" ")
        if len(token) > MAX_CREDENTIAL or not _B64TOKEN.fullmatch(token):
            raise GuardError(ErrorCode.INVALID_TOKEN, "malformed_bearer")
        parsed = (scheme, token)
    if memo and len(raw) <= MEMO_MAX_VALUE:  # only values that parsed: a refusal is decided afresh each time
        _PARSED.put(raw, parsed)
    return parsed


def read_credentials(scope: Scope, api_key_header: bytes | None, api_key_prefix: str | None) -> Credentials:
    """The credentials of ``scope``.

    Args:
        api_key_header: the API-key header name (lower-case bytes), or ``None`` if keys are off.
        api_key_prefix: when set, a bearer value starting with ``<prefix>-`` is taken as an API key.

    Raises:
        GuardError: ``malformed_request`` for duplicated headers or two different credentials,
            ``invalid_token`` for a malformed bearer value, ``invalid_api_key`` for an unreadable key.
    """
    api_key: str | None = None
    if api_key_header is not None:
        raw_key = get_unique(scope, api_key_header)
        if raw_key is not None:
            try:
                api_key = raw_key.decode("ascii").strip()
            except UnicodeDecodeError as exc:
                raise GuardError(ErrorCode.INVALID_API_KEY, "non_ascii_api_key") from exc
            if not api_key or len(api_key) > MAX_CREDENTIAL:
                raise GuardError(ErrorCode.INVALID_API_KEY, "empty_or_oversized_api_key")
    bearer: str | None = None
    other: str | None = None
    raw_auth = get_unique(scope, b"authorization")
    if raw_auth is not None:
        scheme, token = parse_authorization(raw_auth)
        if token is None:
            other = scheme
        elif api_key_prefix is not None and token.startswith(api_key_prefix + "-") and "." not in token:
            if api_key is not None and api_key != token:
                raise GuardError(ErrorCode.MALFORMED_REQUEST, "ambiguous_credentials:two_api_keys")
            api_key = token
        else:
            bearer = token
    if api_key is not None and (bearer is not None or other is not None):
        raise GuardError(ErrorCode.MALFORMED_REQUEST, "ambiguous_credentials:api_key_and_authorization")
    return Credentials(api_key, bearer, other)


__all__ = ("MAX_CREDENTIAL", "MEMO_LIMIT", "MEMO_MAX_VALUE", "Credentials", "parse_authorization", "read_credentials")
