"""The local provider's records: registered clients, users, authorization codes and tokens (in memory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin


@dataclass(frozen=True)
class LocalUser:
    """A user who can approve logins at the local provider."""

    subject: str
    username: str
    name: str = ""
    email: str = ""


@dataclass
class LocalClient(ClientMixin):  # type: ignore[misc]  # authlib ships no type information
    """A registered client: id, secret, redirect URIs and the token-endpoint auth methods it may use."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    auth_methods: tuple[str, ...]
    scopes: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(item for item in (scope or "").split() if item in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact match, as the real providers do

    def check_client_secret(self, client_secret: str) -> bool:
        import hmac

        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in self.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class LocalCode(AuthorizationCodeMixin):  # type: ignore[misc]
    """An authorization code with what the token request is checked against."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: LocalUser
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class LocalToken(TokenMixin):  # type: ignore[misc]
    """An issued access token and its refresh token."""

    client_id: str
    user: LocalUser
    scope: str
    access_token: str
    refresh_token: str | None
    issued_at: float
    expires_in: int
    revoked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def check_client(self, client: LocalClient) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        import time

        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> LocalUser:
        return self.user

    def get_client(self) -> Any:
        return None


__all__ = ("LocalClient", "LocalCode", "LocalToken", "LocalUser")
