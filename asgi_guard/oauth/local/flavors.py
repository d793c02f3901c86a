"""Where each real provider keeps its endpoints and how it behaves, for the local stand-ins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from asgi_guard.oauth import providers
from asgi_guard.oauth.local.models import LocalUser


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


__all__ = ("DEFAULT_USERS", "FLAVORS", "SLACK_TEAM", "Flavor")
