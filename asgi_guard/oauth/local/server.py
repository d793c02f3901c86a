"""A local identity provider built from authlib's server components, with one real provider's shapes.

It stands in for Twitch, Discord, Slack or Google where the network does not reach them (the demo,
tests): the same paths under its base URL, the same token-endpoint client authentication, token and
profile response shapes, id_token claims, PKCE behaviour and revocation dialect. The OAuth protocol
itself is authlib's ``AuthorizationServer`` with its ``AuthorizationCodeGrant``, ``RefreshTokenGrant``,
``CodeChallenge`` (RFC 7636) and ``OpenIDCode`` (OIDC Core); nothing here re-implements it.

Not for production: users approve with one click, there is no login and no CSRF token on the
consent form, and everything lives in memory.
"""

from __future__ import annotations

import html
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Error, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfo
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from asgi_guard.oauth import providers
from asgi_guard.oauth.local.models import LocalClient, LocalCode, LocalToken, LocalUser

if TYPE_CHECKING:
    from starlette.requests import Request


@dataclass(frozen=True)
class Flavor:
    """Where one provider keeps its endpoints (relative to its base URL) and how it behaves."""

    authorize: str
    tokens: str
    revoke: str
    auth_methods: tuple[str, ...]
    pkce: bool
    openid: bool
    rotating: bool
    access_ttl: int
    scopes: tuple[str, ...]
    issuer: str = ""
    jwks: str = ""
    userinfo: str = ""
    profile: str = ""
    validate: str = ""
    discovery: str = ""


FLAVORS: Final[dict[str, Flavor]] = {
    "twitch": Flavor(
        authorize="/oauth2/authorize",
        tokens="/oauth2/token",
        revoke="/oauth2/revoke",
        auth_methods=("client_secret_post",),
        pkce=False,
        openid=True,
        rotating=True,
        access_ttl=14_400,
        scopes=("openid", "user:read:email"),
        issuer="/oauth2",
        jwks="/oauth2/keys",
        userinfo="/oauth2/userinfo",
        profile="/helix/users",
        validate="/oauth2/validate",
        discovery="/oauth2/.well-known/openid-configuration",
    ),
    "discord": Flavor(
        authorize="/oauth2/authorize",
        tokens="/api/oauth2/token",
        revoke="/api/oauth2/token/revoke",
        auth_methods=("client_secret_basic", "client_secret_post"),
        pkce=True,
        openid=False,
        rotating=True,
        access_ttl=604_800,
        scopes=("identify", "email"),
        profile="/api/users/@me",
    ),
    "slack": Flavor(
        authorize="/openid/connect/authorize",
        tokens="/api/openid.connect.token",
        revoke="/api/auth.revoke",
        auth_methods=("client_secret_post", "client_secret_basic"),
        pkce=False,
        openid=True,
        rotating=True,
        access_ttl=43_200,
        scopes=("openid", "email", "profile"),
        jwks="/openid/connect/keys",
        userinfo="/api/openid.connect.userInfo",
        discovery="/.well-known/openid-configuration",
    ),
    "google": Flavor(
        authorize="/o/oauth2/v2/auth",
        tokens="/token",
        revoke="/revoke",
        auth_methods=("client_secret_post", "client_secret_basic"),
        pkce=True,
        openid=True,
        rotating=False,
        access_ttl=3_599,
        scopes=("openid", "email", "profile", providers.YOUTUBE_READONLY),
        jwks="/oauth2/v3/certs",
        userinfo="/v1/userinfo",
        discovery="/.well-known/openid-configuration",
    ),
}

DEFAULT_USERS: Final = (
    LocalUser(subject="141981764", username="streamer", name="Local Streamer", email="streamer@example.test"),
    LocalUser(subject="55501234", username="viewer", name="Local Viewer", email="viewer@example.test"),
)
SLACK_TEAM: Final = "T0LOCAL01"


class LocalProvider:
    """One provider's stand-in, served as a Starlette app at ``base_url``.

    Args:
        flavor: ``twitch``, ``discord``, ``slack`` or ``google``.
        base_url: the absolute URL this app is reachable at (also the issuer's base).
        client_id: the one registered client.
        client_secret: its secret.
        redirect_uris: the exact redirect URIs registered for it.
        users: who may approve a login.
        access_ttl: access-token lifetime (default: the provider's own).

    Attributes:
        refreshes: successful refresh-token grants so far (tests count them).
        revoked: tokens revoked so far.
    """

    def __init__(
        self,
        flavor: str,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: tuple[str, ...],
        users: tuple[LocalUser, ...] = DEFAULT_USERS,
        access_ttl: int | None = None,
    ) -> None:
        self.flavor = FLAVORS[flavor]
        self.name = flavor
        self.base_url = base_url.rstrip("/")
        self.issuer = self.base_url + self.flavor.issuer
        self.users = {user.subject: user for user in users}
        self.access_ttl = access_ttl if access_ttl is not None else self.flavor.access_ttl
        self.client = LocalClient(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=redirect_uris,
            auth_methods=self.flavor.auth_methods,
            scopes=self.flavor.scopes,
        )
        self._key: RSAKey | None = None  # generated on first use: building the demo stays cheap
        self.codes: dict[str, LocalCode] = {}
        self.by_access: dict[str, LocalToken] = {}
        self.by_refresh: dict[str, LocalToken] = {}
        self.refreshes = 0
        self.revoked: list[str] = []
        self.server = _Server(self)
        self.app = Starlette(routes=self._routes())

    @property
    def key(self) -> RSAKey:
        """The id_token signing key (RS256), published at the JWKS endpoint."""
        if self._key is None:
            self._key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig"}, private=True)
        return self._key

    @key.setter
    def key(self, key: RSAKey) -> None:
        self._key = key  # a key rotation

    def provider(self) -> providers.Provider:
        """Our client-side :class:`~asgi_guard.oauth.providers.Provider` pointing at this stand-in."""
        client_id, secret, base = self.client.client_id, self.client.client_secret, self.base_url
        if self.name == "twitch":
            return providers.twitch(client_id, secret, base=base, api_base=base)
        if self.name == "discord":
            return providers.discord(client_id, secret, base=base)
        if self.name == "slack":
            return providers.slack(client_id, secret, base=base)
        return providers.google(client_id, secret, base=base, youtube_scopes=(providers.YOUTUBE_READONLY,))

    # -- what tests may override ---------------------------------------------------------------------

    def rewrite_id_token(self, id_token: str) -> str:
        """The id_token as sent (a hook for tests that play a misbehaving or hostile provider)."""
        return id_token

    def user_claims(self, user: LocalUser, scope: str) -> dict[str, Any]:
        """The identity claims of ``user`` in this provider's shape."""
        claims: dict[str, Any] = {"sub": user.subject}
        if self.name == "twitch":
            claims.update(preferred_username=user.username, email=user.email, email_verified=True)
        elif self.name == "slack":
            claims.update(
                {
                    "https://slack.com/user_id": user.subject,
                    "https://slack.com/team_id": SLACK_TEAM,
                    "email": user.email,
                    "email_verified": True,
                    "name": user.name,
                    "given_name": user.name.split(" ")[0],
                }
            )
        else:
            claims.update(email=user.email, email_verified=True, name=user.name, given_name=user.name.split(" ")[0])
        return claims

    # -- routes --------------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        flavor = self.flavor
        routes = [
            Route(flavor.authorize, self._authorize, methods=["GET", "POST"]),
            Route(flavor.tokens, self._token, methods=["POST"]),
            Route(flavor.revoke, self._revoke, methods=["POST"]),
        ]
        if flavor.openid:
            routes.append(Route(flavor.jwks, self._jwks))
            routes.append(Route(flavor.userinfo, self._userinfo))
        if flavor.discovery:
            routes.append(Route(flavor.discovery, self._discovery))
        if flavor.profile:
            routes.append(Route(flavor.profile, self._profile))
        if flavor.validate:
            routes.append(Route(flavor.validate, self._validate))
        return routes

    async def _oauth_request(self, request: Request, path: str) -> _Request:
        data = list(request.query_params.multi_items())
        if request.method == "POST":
            data += await _form(request)
        return _Request(request.method, self.base_url + path, request.headers, data)

    async def _authorize(self, request: Request) -> Response:
        oauth = await self._oauth_request(request, self.flavor.authorize)
        user = self.users.get(oauth.form.get("user", ""), next(iter(self.users.values())))
        try:
            grant = self.server.get_consent_grant(oauth, end_user=user)
        except OAuth2Error as error:
            return self.server.handle_error_response(oauth, error)  # type: ignore[no-any-return]
        if request.method == "GET":
            return HTMLResponse(self._consent_page(request, oauth))
        approved = oauth.form.get("decision") == "approve"
        return self.server.create_authorization_response(  # type: ignore[no-any-return]
            oauth, grant_user=user if approved else None, grant=grant
        )

    def _consent_page(self, request: Request, oauth: _Request) -> str:
        scopes = "".join(f"<li>{html.escape(scope)}</li>" for scope in (oauth.payload.scope or "").split())
        choices = "".join(
            f'<option value="{html.escape(user.subject)}">{html.escape(user.username)}</option>'
            for user in self.users.values()
        )
        action = html.escape(f"{request.url.path}?{request.url.query}")
        title = f"Local {self.name.capitalize()} (bundled test provider)"
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1>
<p>The application <code>{html.escape(self.client.client_id)}</code> asks for:</p><ul>{scopes}</ul>
<form method="post" action="{action}">
<label>Sign in as <select name="user">{choices}</select></label>
<button type="submit" name="decision" value="approve" id="approve">Authorize</button>
<button type="submit" name="decision" value="deny" id="deny">Cancel</button>
</form></main></body></html>"""

    async def _token(self, request: Request) -> Response:
        oauth = await self._oauth_request(request, self.flavor.tokens)
        response: Response = self.server.create_token_response(oauth)
        return response

    def shape_token_response(self, status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The token endpoint's answer in this provider's shape."""
        if self.name == "slack":
            # Slack's Web API: always HTTP 200, with "ok" true or false.
            return 200, {"ok": status == 200, **body}
        if self.name == "twitch" and status == 200:
            # Twitch sends the granted scopes as a JSON array and a lower-case token type.
            return status, {**body, "scope": str(body.get("scope", "")).split(), "token_type": "bearer"}
        return status, body

    def _bearer(self, request: Request, scheme: str = "bearer") -> LocalToken | None:
        kind, _, value = request.headers.get("authorization", "").partition(" ")
        token = self.by_access.get(value.strip()) if kind.lower() == scheme else None
        if token is None or token.revoked or token.is_expired():
            return None
        return token

    async def _jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def _userinfo(self, request: Request) -> Response:
        token = self._bearer(request)
        if token is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        claims = self.user_claims(token.user, token.scope)
        if self.name == "slack":
            claims = {"ok": True, **claims}
        return JSONResponse(claims)

    async def _profile(self, request: Request) -> Response:
        token = self._bearer(request)
        if token is None:
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
        user = token.user
        if self.name == "twitch":
            if request.headers.get("client-id") != self.client.client_id:
                return JSONResponse(
                    {"error": "Unauthorized", "status": 401, "message": "Client ID and OAuth token do not match"},
                    status_code=401,
                )
            record = {
                "id": user.subject,
                "login": user.username,
                "display_name": user.name or user.username,
                "type": "",
                "broadcaster_type": "",
                "created_at": "2016-12-14T20:32:28Z",
            }
            if "user:read:email" in token.scope.split():
                record["email"] = user.email
            return JSONResponse({"data": [record]})
        body: dict[str, Any] = {
            "id": user.subject,
            "username": user.username,
            "global_name": user.name or None,
            "discriminator": "0",
            "avatar": None,
        }
        if "email" in token.scope.split():
            body.update(email=user.email, verified=True)
        return JSONResponse(body)

    async def _validate(self, request: Request) -> Response:
        token = self._bearer(request, scheme="oauth")
        if token is None:
            return JSONResponse({"status": 401, "message": "invalid access token"}, status_code=401)
        remaining = int(token.issued_at + token.expires_in - time.time())
        return JSONResponse(
            {
                "client_id": token.client_id,
                "login": token.user.username,
                "scopes": token.scope.split(),
                "user_id": token.user.subject,
                "expires_in": remaining,
            }
        )

    async def _revoke(self, request: Request) -> Response:
        form = dict(await _form(request))
        if self.name == "slack":
            token = self._bearer(request)
            if token is None:
                return JSONResponse({"ok": False, "error": "invalid_auth"})
            self._drop(token)
            return JSONResponse({"ok": True, "revoked": True})
        if self.name == "twitch":
            if form.get("client_id") != self.client.client_id:
                return JSONResponse({"status": 404, "message": "client does not exist"}, status_code=404)
            token = self.by_access.get(str(form.get("token", "")))
            if token is None:
                return JSONResponse({"status": 400, "message": "Invalid token"}, status_code=400)
            self._drop(token)
            return Response(status_code=200)
        # Discord and Google: RFC 7009, authlib's RevocationEndpoint (client authentication first).
        oauth = await self._oauth_request(request, self.flavor.revoke)
        response: Response = self.server.create_endpoint_response("revocation", oauth)
        return response

    def _drop(self, token: LocalToken) -> None:
        token.revoked = True
        self.revoked.append(token.access_token)
        self.by_access.pop(token.access_token, None)
        if token.refresh_token:
            self.by_refresh.pop(token.refresh_token, None)

    async def _discovery(self, request: Request) -> Response:
        flavor, base = self.flavor, self.base_url
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": base + flavor.authorize,
                "token_endpoint": base + flavor.tokens,
                "userinfo_endpoint": base + flavor.userinfo,
                "jwks_uri": base + flavor.jwks,
                "revocation_endpoint": base + flavor.revoke,
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": list(flavor.scopes),
                "token_endpoint_auth_methods_supported": list(flavor.auth_methods),
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified"],
                "code_challenge_methods_supported": ["S256"] if flavor.pkce else [],
            }
        )


async def _form(request: Request) -> list[tuple[str, str]]:
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


class _Request(OAuth2Request):  # type: ignore[misc]
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


class _Server(AuthorizationServer):  # type: ignore[misc]
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


__all__ = ("DEFAULT_USERS", "FLAVORS", "Flavor", "LocalProvider")
