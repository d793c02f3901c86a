"""Talking to one provider: authlib's ``AsyncOAuth2Client`` over httpx, plus each provider's quirks.

Every failure becomes a :class:`~asgi_guard.oauth.errors.ProviderError`: ``unavailable`` for timeouts,
connection errors and 5xx answers, an error otherwise (``invalid_grant``, garbage, Slack's
``{"ok": false}``). Tokens never appear in the reasons.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

import httpx2
import msgspec
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.oauth.errors import ProviderError
from asgi_guard.oauth.identity import ProviderIdentity
from asgi_guard.oauth.idtoken import validate_id_token

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from asgi_guard.oauth.idtoken import JWKSCache
    from asgi_guard.oauth.providers import Provider

MAX_RESPONSE_BYTES: Final = 256 * 1024


class TokenResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A token endpoint's answer, normalised (Twitch sends ``scope`` as a JSON array)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type
    id_token: str = ""

    def __repr__(self) -> str:  # tokens are secrets
        return f"TokenResponse(expires_at={self.expires_at!r}, scopes={self.scopes!r})"


class ProviderClient:
    """The OAuth operations against one :class:`~asgi_guard.oauth.providers.Provider`.

    Args:
        provider: the provider.
        http: the shared httpx client (timeouts, transport) for everything but the token endpoint.
        jwks: the JWKS cache.
        timeout: seconds for each call to the provider.
        transport: an httpx transport for the token endpoint too (the bundled local providers
            answer in-process); ``None``: the network.
        clock: the time source.
    """

    __slots__ = ("_clock", "http", "jwks", "provider", "timeout", "transport")

    def __init__(
        self,
        provider: Provider,
        *,
        http: httpx2.AsyncClient,
        jwks: JWKSCache,
        timeout: float = 10.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.provider = provider
        self.http = http
        self.jwks = jwks
        self.timeout = timeout
        self.transport = transport
        self._clock = clock

    def _oauth(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        provider = self.provider
        options: dict[str, Any] = {"timeout": self.timeout, "limits": httpx2.Limits(max_keepalive_connections=0)}
        if self.transport is not None:
            options["transport"] = self.transport
        return AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret or None,
            token_endpoint_auth_method=provider.token_auth,
            scope=" ".join(provider.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256" if provider.pkce else None,
            **options,
        )

    def authorization_url(self, redirect_uri: str, *, state: str, nonce: str, verifier: str) -> str:
        """Where the browser goes to log in (PKCE challenge and nonce as the provider supports)."""
        extra: dict[str, str] = dict(self.provider.authorize_params)
        if self.provider.openid:
            extra["nonce"] = nonce
        client = self._oauth(redirect_uri)
        url, _ = client.create_authorization_url(
            self.provider.authorize_url,
            state=state,
            code_verifier=verifier if self.provider.pkce else None,
            **extra,
        )
        return str(url)

    async def exchange(self, code: str, redirect_uri: str, *, verifier: str) -> TokenResponse:
        """Trade the authorization code for tokens (``redirect_uri`` repeated, as Slack requires)."""
        options: dict[str, str] = {"code": code, "redirect_uri": redirect_uri}
        if self.provider.pkce:
            options["code_verifier"] = verifier
        async with self._calling("token") as client:
            token = await client.fetch_token(self.provider.token_url, grant_type="authorization_code", **options)
        return self._normalise(token)

    async def refresh(self, refresh_token: str) -> TokenResponse:
        """A new access token (and, for rotating providers, a new refresh token)."""
        async with self._calling("refresh") as client:
            # The scope is left out: refreshing keeps the granted scopes (RFC 6749 §6), and Twitch
            # and Discord reject a scope parameter they do not expect.
            client.scope = None
            token = await client.refresh_token(self.provider.token_url, refresh_token=refresh_token)
        response = self._normalise(token)
        if response.refresh_token is None:
            response = msgspec.structs.replace(response, refresh_token=refresh_token)
        return response

    @contextlib.asynccontextmanager
    async def _calling(self, what: str) -> AsyncIterator[AsyncOAuth2Client]:
        client = self._oauth()
        try:
            async with client:
                yield client
        except OAuthError as exc:
            raise ProviderError(f"{what}_{_short(exc.error)}") from exc
        except httpx2.TimeoutException as exc:
            raise ProviderError(f"{what}_timeout", unavailable=True) from exc
        except httpx2.HTTPStatusError as exc:
            status = exc.response.status_code
            raise ProviderError(f"{what}_status_{status}", unavailable=status >= 500 or status == 429) from exc
        except httpx2.HTTPError as exc:
            raise ProviderError(f"{what}_unreachable:{type(exc).__name__}", unavailable=True) from exc
        except (
            ValueError,
            TypeError,
            KeyError,
            RecursionError,
        ) as exc:  # JSON parsers raise RecursionError when nested deep
            raise ProviderError(f"{what}_bad_response") from exc

    def _normalise(self, token: dict[str, Any]) -> TokenResponse:
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise ProviderError("token_missing_access_token")
        scope = token.get("scope", "")
        scopes = tuple(scope.split()) if isinstance(scope, str) else tuple(str(item) for item in scope or ())
        expires_in = token.get("expires_in")
        expires_at = (
            self._clock.time() + float(expires_in)
            if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0
            else None
        )
        refresh = token.get("refresh_token")
        id_token = token.get("id_token", "")
        return TokenResponse(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=expires_at,
            scopes=scopes,
            token_type=str(token.get("token_type", "Bearer")),
            id_token=id_token if isinstance(id_token, str) else "",
        )

    async def identity(self, tokens: TokenResponse, *, nonce: str) -> ProviderIdentity:
        """The user behind ``tokens``: the validated id_token and/or the provider's profile endpoint."""
        provider = self.provider
        claims: dict[str, Any] = {}
        if provider.openid:
            if not tokens.id_token:
                raise ProviderError("id_token_missing")
            claims = await validate_id_token(
                provider,
                tokens.id_token,
                nonce=nonce,
                access_token=tokens.access_token,
                jwks=self.jwks,
                clock=self._clock,
            )
        if provider.profile == "discord":
            profile = await self._get_json(provider.profile_url, tokens.access_token)
            return _identity(
                provider.name,
                tokens,
                profile,
                subject="id",
                username="username",
                name="global_name",
                verified="verified",
            )
        if provider.profile == "twitch_helix":
            body = await self._get_json(provider.profile_url, tokens.access_token, {"Client-Id": provider.client_id})
            data = body.get("data")
            if not isinstance(data, list) or not data or not isinstance(data[0], dict):
                raise ProviderError("profile_bad_response")
            profile = {**claims, **data[0]}
            if str(profile.get("id")) != str(claims.get("sub")):
                raise ProviderError("profile_subject_mismatch")
            return _identity(
                provider.name,
                tokens,
                profile,
                subject="id",
                username="login",
                name="display_name",
                verified="email_verified",
            )
        if provider.profile == "userinfo":
            profile = await self._get_json(provider.userinfo_url, tokens.access_token)
            return _identity(
                provider.name,
                tokens,
                profile,
                subject="sub" if "sub" in profile else "id",
                username="preferred_username",
                name="name",
                verified="email_verified",
            )
        identity = _identity(
            provider.name,
            tokens,
            claims,
            subject="sub",
            username="preferred_username",
            name="name",
            verified="email_verified",
        )
        if provider.team_claim:
            identity = msgspec.structs.replace(identity, team_id=str(claims.get(provider.team_claim, "")))
        return identity

    async def _get_json(self, url: str, access_token: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json", **(extra or {})}
        try:
            response = await self.http.get(url, headers=headers, timeout=self.timeout)
        except httpx2.HTTPError as exc:
            raise ProviderError(f"profile_unreachable:{type(exc).__name__}", unavailable=True) from exc
        if response.status_code != 200:
            raise ProviderError(f"profile_status_{response.status_code}", unavailable=response.status_code >= 500)
        body = _json(response.content)
        if not isinstance(body, dict):
            raise ProviderError("profile_bad_response")
        return body

    async def revoke(self, token: str, *, hint: str = "access_token") -> None:
        """Revoke ``token`` at the provider, in its dialect (an unknown or expired token counts as revoked)."""
        provider = self.provider
        if provider.revocation == "none":
            return
        if provider.revocation == "slack":
            # Slack's Web API method auth.revoke, authenticated by the token itself.
            body = await self._post(provider.revoke_url, {}, {"Authorization": f"Bearer {token}"})
            if body.get("ok") is not True and body.get("error") not in ("invalid_auth", "token_revoked"):
                raise ProviderError(f"revoke_{_short(body.get('error'))}")
            return
        if provider.revocation == "twitch":
            # Twitch: client_id + token in the form; 400 means the token is already invalid.
            await self._post(provider.revoke_url, {"client_id": provider.client_id, "token": token}, {}, ok=(200, 400))
            return
        async with self._calling("revoke") as client:
            response = await client.revoke_token(provider.revoke_url, token=token, token_type_hint=hint)
        if response.status_code >= 500:
            raise ProviderError(f"revoke_status_{response.status_code}", unavailable=True)
        if response.status_code not in (200, 204, 400):  # RFC 7009 §2.2: invalid tokens still get 200
            raise ProviderError(f"revoke_status_{response.status_code}")

    async def _post(
        self, url: str, form: dict[str, str], headers: dict[str, str], ok: tuple[int, ...] = (200,)
    ) -> dict[str, Any]:
        try:
            response = await self.http.post(url, data=form, headers=headers, timeout=self.timeout)
        except httpx2.HTTPError as exc:
            raise ProviderError(f"revoke_unreachable:{type(exc).__name__}", unavailable=True) from exc
        if response.status_code not in ok:
            raise ProviderError(f"revoke_status_{response.status_code}", unavailable=response.status_code >= 500)
        body = _json(response.content)
        return body if isinstance(body, dict) else {}

    async def validate(self, access_token: str) -> bool:
        """Twitch's ``/oauth2/validate``: ``True`` valid, ``False`` revoked or expired (401).

        Raises:
            ProviderError: the provider could not answer (the token's fate is then unknown).
        """
        headers = {"Authorization": f"OAuth {access_token}"}
        try:
            response = await self.http.get(self.provider.validate_url, headers=headers, timeout=self.timeout)
        except httpx2.HTTPError as exc:
            raise ProviderError(f"validate_unreachable:{type(exc).__name__}", unavailable=True) from exc
        if response.status_code == 401:
            return False
        if response.status_code != 200:
            raise ProviderError(f"validate_status_{response.status_code}", unavailable=response.status_code >= 500)
        return True


def _json(content: bytes) -> Any:
    """A small JSON body, or ``None`` when it is too large or not JSON."""
    if len(content) > MAX_RESPONSE_BYTES:
        return None
    try:
        return msgspec.json.decode(content)
    except (msgspec.DecodeError, RecursionError):  # RecursionError: nested past 1,000 levels
        return None


def _short(error: object) -> str:
    text = str(error or "error")
    return "".join(ch for ch in text[:40] if ch.isalnum() or ch in "_-.") or "error"


def _identity(
    provider: str,
    tokens: TokenResponse,
    profile: dict[str, Any],
    *,
    subject: str,
    username: str,
    name: str,
    verified: str,
) -> ProviderIdentity:
    sub = profile.get(subject)
    if not isinstance(sub, (str, int)) or isinstance(sub, bool) or not str(sub):
        raise ProviderError("profile_missing_subject")
    email = profile.get("email")
    return ProviderIdentity(
        provider=provider,
        subject=str(sub),
        username=str(profile.get(username) or ""),
        name=str(profile.get(name) or ""),
        email=email if isinstance(email, str) else "",
        email_verified=profile.get(verified) is True,
        scopes=tokens.scopes,
        claims=profile,
    )


__all__ = ("ProviderClient", "TokenResponse")
