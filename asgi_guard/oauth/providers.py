"""OAuth 2 / OpenID Connect providers: real endpoints, scopes and quirks, every endpoint overridable.

A :class:`Provider` is data. The factories (:func:`twitch`, :func:`discord`, :func:`slack`,
:func:`google`, :func:`generic_oauth2`, :func:`generic_oidc`) fill in what each provider documents;
``base`` moves every endpoint under another origin (tests, a self-hosted identity server, the bundled
local providers of the demo), and ``msgspec.structs.replace`` changes any single field.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

import msgspec

from asgi_guard.errors import ConfigurationError

TokenAuth = Literal["client_secret_post", "client_secret_basic", "none"]
"""How the client authenticates at the token endpoint (RFC 6749 §2.3, OIDC Core §9)."""

Revocation = Literal["rfc7009", "twitch", "slack", "none"]
"""``rfc7009`` (form ``token`` + client auth), ``twitch`` (form ``client_id`` + ``token``), ``slack``
(Web API ``auth.revoke`` with the token as bearer), ``none``."""

Profile = Literal["id_token", "userinfo", "discord", "twitch_helix"]
"""Where the user's profile comes from: the validated id_token alone, the OIDC userinfo endpoint,
Discord's ``/users/@me``, or Twitch's Helix ``/users`` (which wants a ``Client-Id`` header)."""

SLACK_TEAM_CLAIM = "https://slack.com/team_id"


class Provider(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One identity provider and our client registration at it.

    Attributes:
        name: the route segment (``/auth/{name}/login``) and the provider key of stored tokens.
        client_id: our client id at the provider.
        client_secret: our client secret ("" only for public clients with ``token_auth="none"``).
        authorize_url: the authorization endpoint (the browser goes there).
        token_url: the token endpoint (code exchange and refresh).
        scopes: the scopes requested at login.
        openid: OpenID Connect: a ``nonce`` is sent and the id_token is required and validated.
        issuer: the id_token ``iss`` (required when ``openid``).
        jwks_uri: the provider's JSON Web Key Set (required when ``openid``).
        userinfo_url: the OIDC userinfo endpoint, if any.
        profile_url: Discord's ``/users/@me`` or Twitch's Helix ``/users``, per ``profile``.
        profile: where the user's profile comes from.
        revoke_url: the revocation endpoint ("" when the provider has none).
        revocation: the revocation dialect.
        validate_url: Twitch's ``/oauth2/validate`` (stored tokens are validated hourly).
        pkce: send a PKCE S256 challenge (RFC 7636).
        token_auth: the token-endpoint client authentication.
        authorize_params: extra authorization parameters (``access_type``, ``prompt``, ``claims``).
        id_token_algorithms: accepted id_token signature algorithms (asymmetric only).
        team_claim: the id_token claim naming the user's workspace (Slack).
        refresh_margin: refresh an access token this many seconds before it expires.
        rotating_refresh: the provider rotates refresh tokens and each is single-use.
    """

    name: str
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    openid: bool = False
    issuer: str = ""
    jwks_uri: str = ""
    userinfo_url: str = ""
    profile_url: str = ""
    profile: Profile = "id_token"
    revoke_url: str = ""
    revocation: Revocation = "rfc7009"
    validate_url: str = ""
    pkce: bool = True
    token_auth: TokenAuth = "client_secret_basic"  # noqa: S105 - a method name, not a secret
    authorize_params: tuple[tuple[str, str], ...] = ()
    id_token_algorithms: tuple[str, ...] = ("RS256",)
    team_claim: str = ""
    refresh_margin: float = 300.0
    rotating_refresh: bool = False

    def __post_init__(self) -> None:
        where = f"Provider({self.name!r})"
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum() or not self.name.islower():
            raise ConfigurationError.expected("a lower-case name of letters, digits, - and _", self.name, where)
        if not self.client_id:
            raise ConfigurationError.expected("a client_id", self.client_id, where)
        if not self.client_secret and self.token_auth != "none":  # noqa: S105 - a method name
            raise ConfigurationError.expected("a client_secret (or token_auth='none')", "", where)
        for field in ("authorize_url", "token_url", "jwks_uri", "userinfo_url", "profile_url", "revoke_url"):
            value = getattr(self, field)
            if value and not _is_endpoint(value):
                raise ConfigurationError.expected("an https (or loopback http) URL", value, f"{where}.{field}")
        if self.openid and not (self.issuer and self.jwks_uri):
            raise ConfigurationError.expected("issuer and jwks_uri for OpenID Connect", self.issuer, where)
        if self.profile == "id_token" and not self.openid:
            raise ConfigurationError.expected("profile='userinfo' or a profile_url without openid", "id_token", where)
        if self.profile in ("discord", "twitch_helix") and not self.profile_url:
            raise ConfigurationError.expected(f"a profile_url for profile={self.profile!r}", "", where)
        if self.profile == "userinfo" and not self.userinfo_url:
            raise ConfigurationError.expected("a userinfo_url for profile='userinfo'", "", where)
        if self.revocation != "none" and not self.revoke_url:
            raise ConfigurationError.expected(f"a revoke_url for revocation={self.revocation!r}", "", where)
        unsafe = {"none"} | {alg for alg in self.id_token_algorithms if alg.startswith("HS")}
        if not self.id_token_algorithms or unsafe & set(self.id_token_algorithms):
            # alg=none and HMAC would let anyone holding the public JWKS (everyone) mint id_tokens.
            raise ConfigurationError.expected("asymmetric algorithms only", self.id_token_algorithms, where)
        if not 0 <= self.refresh_margin <= 86400:
            raise ConfigurationError.expected("a refresh_margin of 0 to 86400 seconds", self.refresh_margin, where)

    def __repr__(self) -> str:  # the client secret is a secret
        return f"Provider(name={self.name!r}, client_id={self.client_id!r}, authorize_url={self.authorize_url!r})"


def _is_endpoint(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    # Plain http only to this machine: the bundled local providers and tests (RFC 8252 §7.3 spirit).
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def twitch(
    client_id: str,
    client_secret: str,
    *,
    base: str = "https://id.twitch.tv",
    api_base: str = "https://api.twitch.tv",
    scopes: tuple[str, ...] = ("openid", "user:read:email"),
) -> Provider:
    """Twitch: OpenID Connect at id.twitch.tv, secret in the form body, no PKCE, Helix for the profile.

    Twitch documents no PKCE (none in its discovery document), revokes with ``client_id`` + ``token``,
    and requires apps to call ``/oauth2/validate`` at start-up and hourly for the tokens they keep.
    The ``claims`` parameter asks for the email and login in the id_token.
    """
    claims = '{"id_token":{"email":null,"email_verified":null,"preferred_username":null}}'
    return Provider(
        name="twitch",
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=f"{base}/oauth2/authorize",
        token_url=f"{base}/oauth2/token",
        scopes=scopes,
        openid=True,
        issuer=f"{base}/oauth2",
        jwks_uri=f"{base}/oauth2/keys",
        userinfo_url=f"{base}/oauth2/userinfo",
        profile_url=f"{api_base}/helix/users",
        profile="twitch_helix",
        revoke_url=f"{base}/oauth2/revoke",
        revocation="twitch",
        validate_url=f"{base}/oauth2/validate",
        pkce=False,
        token_auth="client_secret_post",  # noqa: S106 - a method name, not a secret
        authorize_params=(("claims", claims),),
        rotating_refresh=True,
        refresh_margin=60.0,
    )


def discord(
    client_id: str,
    client_secret: str,
    *,
    base: str = "https://discord.com",
    scopes: tuple[str, ...] = ("identify", "email"),
) -> Provider:
    """Discord: OAuth 2 with PKCE S256, ``identify email``, ``/users/@me``, single-use rotating refresh tokens.

    The secret goes along on refresh too (refreshing a PKCE grant without it fails, discord-api-docs #5531).
    """
    return Provider(
        name="discord",
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=f"{base}/oauth2/authorize",
        token_url=f"{base}/api/oauth2/token",
        scopes=scopes,
        profile_url=f"{base}/api/users/@me",
        profile="discord",
        revoke_url=f"{base}/api/oauth2/token/revoke",
        revocation="rfc7009",
        pkce=True,
        token_auth="client_secret_basic",  # noqa: S106 - a method name, not a secret
        rotating_refresh=True,
    )


def slack(
    client_id: str,
    client_secret: str,
    *,
    base: str = "https://slack.com",
    issuer: str | None = None,
    scopes: tuple[str, ...] = ("openid", "email", "profile"),
) -> Provider:
    """Slack "Sign in with Slack": OpenID Connect, the team id claim, ``auth.revoke``.

    No PKCE: it would mark the app a public client for good (refresh tokens then expire in 30 days).
    The ``redirect_uri`` is repeated at the token exchange (authlib sends it for every code exchange).
    Slack answers errors with HTTP 200 and ``{"ok": false, "error": ...}``, which authlib reports as
    an OAuth error because of the ``error`` member.
    """
    return Provider(
        name="slack",
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=f"{base}/openid/connect/authorize",
        token_url=f"{base}/api/openid.connect.token",
        scopes=scopes,
        openid=True,
        issuer=issuer if issuer is not None else base,
        jwks_uri=f"{base}/openid/connect/keys",
        userinfo_url=f"{base}/api/openid.connect.userInfo",
        profile="id_token",
        revoke_url=f"{base}/api/auth.revoke",
        revocation="slack",
        pkce=False,
        token_auth="client_secret_post",  # noqa: S106 - a method name, not a secret
        team_claim=SLACK_TEAM_CLAIM,
        rotating_refresh=True,
    )


YOUTUBE_READONLY = "https://www.googleapis.com/auth/youtube.readonly"


def google(
    client_id: str,
    client_secret: str,
    *,
    base: str | None = None,
    youtube_scopes: tuple[str, ...] = (),
) -> Provider:
    """Google (YouTube): OpenID Connect, PKCE S256, ``access_type=offline`` + ``prompt=consent`` (refresh token).

    Google's refresh tokens do not rotate. ``youtube_scopes`` (e.g. :data:`YOUTUBE_READONLY`) are added
    to ``openid email profile``. ``base`` serves every endpoint from one origin (Google uses several).
    """
    if base is None:
        urls = (
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
            "https://accounts.google.com",
            "https://www.googleapis.com/oauth2/v3/certs",
            "https://openidconnect.googleapis.com/v1/userinfo",
            "https://oauth2.googleapis.com/revoke",
        )
    else:
        urls = (
            f"{base}/o/oauth2/v2/auth",
            f"{base}/token",
            base,
            f"{base}/oauth2/v3/certs",
            f"{base}/v1/userinfo",
            f"{base}/revoke",
        )
    authorize, token, issuer, jwks, userinfo, revoke = urls
    return Provider(
        name="google",
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=authorize,
        token_url=token,
        scopes=("openid", "email", "profile", *youtube_scopes),
        openid=True,
        issuer=issuer,
        jwks_uri=jwks,
        userinfo_url=userinfo,
        profile="id_token",
        revoke_url=revoke,
        revocation="rfc7009",
        pkce=True,
        token_auth="client_secret_post",  # noqa: S106 - a method name, not a secret
        authorize_params=(("access_type", "offline"), ("prompt", "consent")),
    )


def generic_oauth2(
    name: str,
    client_id: str,
    client_secret: str,
    *,
    authorize_url: str,
    token_url: str,
    userinfo_url: str,
    scopes: tuple[str, ...] = (),
    revoke_url: str = "",
    pkce: bool = True,
    token_auth: TokenAuth = "client_secret_basic",  # noqa: S107 - a method name, not a secret
) -> Provider:
    """Any OAuth 2 provider: the user from a userinfo-style endpoint (``sub``/``id``, ``email``, ...)."""
    return Provider(
        name=name,
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=authorize_url,
        token_url=token_url,
        scopes=scopes,
        userinfo_url=userinfo_url,
        profile="userinfo",
        revoke_url=revoke_url,
        revocation="rfc7009" if revoke_url else "none",
        pkce=pkce,
        token_auth=token_auth,
    )


class DiscoveryDocument(msgspec.Struct, kw_only=True):
    """The members of an OpenID Provider's discovery document we use (OIDC Discovery §3)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    revocation_endpoint: str = ""
    code_challenge_methods_supported: list[str] = msgspec.field(default_factory=list)
    token_endpoint_auth_methods_supported: list[str] = msgspec.field(default_factory=lambda: ["client_secret_basic"])
    id_token_signing_alg_values_supported: list[str] = msgspec.field(default_factory=lambda: ["RS256"])


def generic_oidc(
    name: str,
    client_id: str,
    client_secret: str,
    document: DiscoveryDocument,
    *,
    scopes: tuple[str, ...] = ("openid", "email", "profile"),
) -> Provider:
    """Any OpenID Connect provider, from its discovery document (see :func:`~asgi_guard.oauth.discover`)."""
    methods = document.token_endpoint_auth_methods_supported
    token_auth: TokenAuth = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
    algorithms = tuple(alg for alg in document.id_token_signing_alg_values_supported if alg != "none")
    return Provider(
        name=name,
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=document.authorization_endpoint,
        token_url=document.token_endpoint,
        scopes=scopes,
        openid=True,
        issuer=document.issuer,
        jwks_uri=document.jwks_uri,
        userinfo_url=document.userinfo_endpoint,
        profile="id_token",
        revoke_url=document.revocation_endpoint,
        revocation="rfc7009" if document.revocation_endpoint else "none",
        pkce="S256" in document.code_challenge_methods_supported,
        token_auth=token_auth,
        id_token_algorithms=tuple(alg for alg in algorithms if not alg.startswith("HS")) or ("RS256",),
    )


__all__ = (
    "SLACK_TEAM_CLAIM",
    "YOUTUBE_READONLY",
    "DiscoveryDocument",
    "Profile",
    "Provider",
    "Revocation",
    "TokenAuth",
    "discord",
    "generic_oauth2",
    "generic_oidc",
    "google",
    "slack",
    "twitch",
)
