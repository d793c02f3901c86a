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
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import OAuth2Error
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from asgi_guard.oauth import providers
from asgi_guard.oauth.local.authz import AuthServer, OAuthRequest, read_form
from asgi_guard.oauth.local.flavors import DEFAULT_USERS, FLAVORS, SLACK_TEAM
from asgi_guard.oauth.local.models import LocalClient, LocalCode, LocalToken, LocalUser

if TYPE_CHECKING:
    from starlette.requests import Request


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
        self.server = AuthServer(self)
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

    async def _oauth_request(self, request: Request, path: str) -> OAuthRequest:
        data = list(request.query_params.multi_items())
        if request.method == "POST":
            data += await read_form(request)
        return OAuthRequest(request.method, self.base_url + path, request.headers, data)

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

    def _consent_page(self, request: Request, oauth: OAuthRequest) -> str:
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
        form = dict(await read_form(request))
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


__all__ = ("LocalProvider",)
