"""Session lifecycle in cookies: log in, rotate on refresh, log out (revoking both tokens).

Any app (and the OAuth login app) calls these around a :class:`~asgi_guard.auth.TokenService`. Each
takes the response to write ``Set-Cookie`` headers on: a Starlette ``Response`` (anything with a
``raw_headers`` list) or a plain list of ``(name, value)`` byte pairs for raw ASGI apps.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableSequence
from typing import TYPE_CHECKING, Any, TypeAlias

from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.sessions.cookies import SessionCookies, read_cookie

if TYPE_CHECKING:
    from collections.abc import Iterable

    from asgi_guard.auth.tokens import TokenPair, TokenService

Target: TypeAlias = Any
"""A response with a ``raw_headers`` list, or a mutable list of header pairs."""


def _headers_of(target: Target) -> MutableSequence[tuple[bytes, bytes]]:
    headers = getattr(target, "raw_headers", target)
    if not isinstance(headers, MutableSequence):
        raise TypeError(f"Expected a response with raw_headers or a list of header pairs, got {type(target)!r}")
    return headers


def _append(target: Target, headers: Iterable[tuple[bytes, bytes]]) -> None:
    found = _headers_of(target)
    found.extend(headers)
    # Nothing caches a session response: a shared cache must never hand one user's cookie to another.
    if not any(key == b"cache-control" for key, _ in found):
        found.append((b"cache-control", b"no-store"))


def _scope_of(scope_or_request: Any) -> Any:
    scope = scope_or_request if isinstance(scope_or_request, Mapping) else getattr(scope_or_request, "scope", None)
    if not isinstance(scope, Mapping):
        raise TypeError(f"Expected an ASGI scope or a request with `.scope`, got {type(scope_or_request)!r}")
    return scope


def set_session(target: Target, pair: TokenPair, cookies: SessionCookies) -> None:
    """Store a login's (or a refresh's) token pair in the two session cookies."""
    _append(
        target, (cookies.access_header(pair.access_token, pair.expires_in), cookies.refresh_header(pair.refresh_token))
    )


def clear_session(target: Target, cookies: SessionCookies) -> None:
    """Delete both session cookies (without revoking anything: see :func:`logout`)."""
    _append(target, cookies.clear_headers())


async def refresh_session(
    scope_or_request: Any, target: Target, tokens: TokenService, cookies: SessionCookies
) -> TokenPair:
    """Rotate: redeem the refresh cookie for a new pair and store it (the old refresh token is spent).

    A reused refresh token past the grace revokes the whole family (``TokenService.refresh``); on any
    refusal the cookies are cleared on ``target`` too, so the browser stops presenting them.

    Raises:
        GuardError: ``missing_credentials`` without a refresh cookie, what ``TokenService.refresh``
            raises for a bad, expired, revoked or reused token, or ``service_unavailable`` when the
            revocation store cannot answer (the cookies are kept: the session may well be valid).
    """
    scope = _scope_of(scope_or_request)
    refresh = read_cookie(scope, cookies.refresh_cookie)
    if not refresh:
        raise GuardError(ErrorCode.MISSING_CREDENTIALS, "no_refresh_cookie")
    try:
        pair = await tokens.refresh(refresh)
    except GuardError as exc:
        if exc.code is not ErrorCode.SERVICE_UNAVAILABLE:  # the store is down: the session may be valid
            clear_session(target, cookies)
        raise
    set_session(target, pair, cookies)
    return pair


async def logout(scope_or_request: Any, target: Target, tokens: TokenService, cookies: SessionCookies) -> int:
    """Revoke the access and refresh tokens the request carries in cookies, and delete both cookies.

    Revoking the refresh token revokes its whole family, so tokens copied elsewhere stop working too.
    A cookie that does not verify (forged, expired) is not an error here: the cookies are cleared
    all the same. Returns how many tokens were revoked.

    Raises:
        GuardError: ``service_unavailable`` when the revocation store cannot record a revocation (the
            cookies are cleared on ``target`` first, but the tokens would still work elsewhere: tell
            the user the logout did not complete).
    """
    scope = _scope_of(scope_or_request)
    revoked = 0
    clear_session(target, cookies)
    for name in (cookies.refresh_cookie, cookies.access_cookie):
        try:
            token = read_cookie(scope, name)
        except GuardError:
            continue
        if not token:
            continue
        try:
            await tokens.revoke(token)
        except GuardError as exc:
            if exc.code is ErrorCode.SERVICE_UNAVAILABLE:  # the store is down: the logout did not complete
                raise
            continue  # a token that does not verify needs no revocation
        revoked += 1
    return revoked


__all__ = ("clear_session", "logout", "refresh_session", "set_session")
