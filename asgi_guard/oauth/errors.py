"""The login app's refusals: stable codes for clients, precise reasons for the security log."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class LoginErrorCode(StrEnum):
    """Every code the login app answers with (stable API, like :class:`~asgi_guard.errors.ErrorCode`)."""

    UNKNOWN_PROVIDER = "unknown_provider"
    INVALID_STATE = "invalid_state"
    ACCESS_DENIED = "access_denied"
    LOGIN_REFUSED = "login_refused"
    PROVIDER_ERROR = "provider_error"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    INVALID_SESSION = "invalid_session"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    SERVICE_UNAVAILABLE = "service_unavailable"


LOGIN_STATUS: Final[dict[LoginErrorCode, int]] = {
    LoginErrorCode.UNKNOWN_PROVIDER: 404,
    LoginErrorCode.INVALID_STATE: 400,
    LoginErrorCode.ACCESS_DENIED: 403,
    LoginErrorCode.LOGIN_REFUSED: 403,
    LoginErrorCode.PROVIDER_ERROR: 502,
    LoginErrorCode.PROVIDER_UNAVAILABLE: 503,
    LoginErrorCode.INVALID_SESSION: 401,
    LoginErrorCode.METHOD_NOT_ALLOWED: 405,
    LoginErrorCode.SERVICE_UNAVAILABLE: 503,
}

LOGIN_DETAIL: Final[dict[LoginErrorCode, str]] = {
    LoginErrorCode.UNKNOWN_PROVIDER: "There is no such login provider.",
    LoginErrorCode.INVALID_STATE: "This login link is invalid or has expired. Please start the login again.",
    LoginErrorCode.ACCESS_DENIED: "The login was cancelled at the provider.",
    LoginErrorCode.LOGIN_REFUSED: "This account may not log in here.",
    LoginErrorCode.PROVIDER_ERROR: "The login provider answered with an error. Please try again.",
    LoginErrorCode.PROVIDER_UNAVAILABLE: "The login provider cannot be reached right now. Please try again later.",
    LoginErrorCode.INVALID_SESSION: "The session is not valid. Please log in again.",
    LoginErrorCode.METHOD_NOT_ALLOWED: "This method is not allowed here.",
    LoginErrorCode.SERVICE_UNAVAILABLE: "The login is temporarily unavailable. Please try again later.",
}


class LoginError(Exception):
    """A refused login step. ``reason`` goes to the security event, never to the client."""

    __slots__ = ("code", "reason")

    def __init__(self, code: LoginErrorCode, reason: str) -> None:
        super().__init__(code.value, reason)
        self.code = code
        self.reason = reason

    @property
    def status(self) -> int:
        return LOGIN_STATUS[self.code]


class ProviderError(Exception):
    """The provider failed: ``unavailable`` (timeout, connection, 5xx) or answered an error or garbage."""

    __slots__ = ("reason", "unavailable")

    def __init__(self, reason: str, *, unavailable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unavailable = unavailable

    def as_login_error(self) -> LoginError:
        code = LoginErrorCode.PROVIDER_UNAVAILABLE if self.unavailable else LoginErrorCode.PROVIDER_ERROR
        return LoginError(code, self.reason)


__all__ = ("LOGIN_DETAIL", "LOGIN_STATUS", "LoginError", "LoginErrorCode", "ProviderError")
