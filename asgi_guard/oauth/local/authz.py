"""authlib's authorization server, wired to a :class:`~asgi_guard.oauth.local.server.LocalProvider`.

The grants, PKCE, OpenID Connect and revocation are authlib's; this module only stores codes and
tokens in the local provider's memory and hands authlib the requests it expects.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfo
from starlette.responses import JSONResponse, Response

from asgi_guard.oauth.local.models import LocalClient, LocalCode, LocalToken, LocalUser

if TYPE_CHECKING:
    from joserfc.jwk import RSAKey
    from starlette.requests import Request

    from asgi_guard.oauth.local.server import LocalProvider


async def read_form(request: Request) -> list[tuple[str, str]]:
    """An ``application/x-www-form-urlencoded`` body (OAuth's only body format here), capped."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return []
    body = await request.body()
    return parse_qsl(body[:65536].decode("utf-8", "replace"), keep_blank_values=True)


class _Payload(OAuth2Payload):  # type: ignore[misc]  # authlib ships no type information
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class OAuthRequest(OAuth2Request):  # type: ignore[misc]
    """authlib's request view of a Starlette request whose query and form were read beforehand."""

    def __init__(self, method: str, uri: str, headers: Any, items: list[tuple[str, str]]) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = _Payload(items)
        self._items = dict(items)

    @property
    def args(self) -> dict[str, str]:
        return self._items

    @property
    def form(self) -> dict[str, str]:
        return self._items


class AuthServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, local: LocalProvider) -> None:
        super().__init__(scopes_supported=list(local.flavor.scopes))
        self.local = local
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda *args, **kwargs: secrets.token_urlsafe(30),
                refresh_token_generator=lambda *args, **kwargs: secrets.token_urlsafe(36),
                expires_generator=lambda client, grant_type: local.access_ttl,
            ),
        )
        methods = list(local.flavor.auth_methods)
        code_grant = type("CodeGrant", (_CodeGrant,), {"TOKEN_ENDPOINT_AUTH_METHODS": methods})
        refresh_grant = type(
            "RefreshGrant",
            (_RefreshGrant,),
            {"TOKEN_ENDPOINT_AUTH_METHODS": methods, "INCLUDE_NEW_REFRESH_TOKEN": local.flavor.rotating},
        )
        extensions: list[Any] = []
        if local.flavor.pkce:
            extensions.append(CodeChallenge(required=False))
        if local.flavor.openid:
            extensions.append(_OpenID(local))
        self.register_grant(code_grant, extensions)
        self.register_grant(refresh_grant)
        self.register_endpoint(type("Revocation", (_Revocation,), {"CLIENT_AUTH_METHODS": methods}))

    def query_client(self, client_id: str) -> LocalClient | None:
        return self.local.client if client_id == self.local.client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        local = self.local
        record = LocalToken(
            client_id=request.client.client_id,
            user=request.user,
            scope=token.get("scope", ""),
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            issued_at=time.time(),
            expires_in=int(token.get("expires_in", local.access_ttl)),
        )
        if record.refresh_token is None and request.refresh_token is not None:
            record.refresh_token = request.refresh_token.refresh_token  # Google: the old one stays valid
        local.by_access[record.access_token] = record
        if record.refresh_token:
            local.by_refresh[record.refresh_token] = record
        if request.payload.grant_type == "refresh_token":
            local.refreshes += 1

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def create_json_request(self, request: Any) -> Any:  # pragma: no cover - no JSON endpoints here
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        header_map = dict(headers)
        if status in (301, 302, 303):
            return Response(status_code=status, headers=header_map)
        if isinstance(body, dict):
            status, body = self.local.shape_token_response(status, body)
            header_map.pop("Content-Type", None)
            return JSONResponse(body, status_code=status, headers=header_map)
        return Response(str(body), status_code=status, headers=header_map)  # pragma: no cover

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.local.codes[code] = LocalCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope,
            user=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=int(time.time()),
        )

    def query_authorization_code(self, code: str, client: LocalClient) -> LocalCode | None:
        found: LocalCode | None = self.server.local.codes.get(code)
        return found if found is not None and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: LocalCode) -> None:
        self.server.local.codes.pop(authorization_code.code, None)  # a code works once

    def authenticate_user(self, authorization_code: LocalCode) -> LocalUser:
        return authorization_code.user


class _RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    def authenticate_refresh_token(self, refresh_token: str) -> LocalToken | None:
        token: LocalToken | None = self.server.local.by_refresh.get(refresh_token)
        return token if token is not None and not token.revoked else None

    def authenticate_user(self, refresh_token: LocalToken) -> LocalUser:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: LocalToken) -> None:
        local = self.server.local
        if local.flavor.rotating:
            # Single-use refresh tokens: the old one (and its access token) stops working now.
            local._drop(refresh_token)


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    def query_token(self, token_string: str, token_type_hint: str | None) -> LocalToken | None:
        local = self.server.local
        found: LocalToken | None = local.by_access.get(token_string) or local.by_refresh.get(token_string)
        return found

    def revoke_token(self, token: LocalToken, request: OAuth2Request) -> None:
        self.server.local._drop(token)


class _OpenID(OpenIDCode):  # type: ignore[misc]
    def __init__(self, local: LocalProvider) -> None:
        super().__init__(require_nonce=True)
        self.local = local

    def resolve_client_private_key(self, client: LocalClient) -> RSAKey:
        return self.local.key

    def get_client_algorithm(self, client: LocalClient) -> str:
        return "RS256"

    def get_encode_header(self, client: LocalClient) -> dict[str, str]:
        return {"alg": "RS256", "kid": str(self.local.key.kid), "typ": "JWT"}

    def get_client_claims(self, client: LocalClient) -> dict[str, Any]:
        return {"iss": self.local.issuer, "aud": client.client_id, "azp": client.client_id}

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(code.nonce == nonce for code in self.local.codes.values())

    def generate_user_info(self, user: LocalUser, scope: str) -> UserInfo:
        return UserInfo(self.local.user_claims(user, scope))

    def process_token(self, grant: Any, response: Any) -> dict[str, Any]:
        token: dict[str, Any] = super().process_token(grant, response)
        if "id_token" in token:
            token["id_token"] = self.local.rewrite_id_token(token["id_token"])
        return token


__all__ = ("AuthServer", "OAuthRequest", "read_form")
