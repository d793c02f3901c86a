"""The demo's "Log in with Twitch / Discord / Slack / Google": the OAuth login app at ``/auth``.

Without network access the demo serves a bundled local identity provider per provider under
``/idp/<name>`` (authlib's server components in that provider's shapes: paths, token-endpoint client
authentication, id_token claims, PKCE, revocation). The browser talks to it on the demo's own
origin; the server's back-channel calls (token exchange, keys, profile) reach it in-process.

Set ``ASGI_GUARD_DEMO_<PROVIDER>_CLIENT_ID`` and ``..._CLIENT_SECRET`` (e.g.
``ASGI_GUARD_DEMO_TWITCH_CLIENT_ID``) to log in at the real provider instead; register
``<public url>/auth/<provider>/callback`` there as the redirect URI.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import httpx2
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

import asgi_guard.oauth.providers as providers
from asgi_guard.oauth import OAuthApp, OAuthConfig, ProviderIdentity, ProviderTokens, SessionUser
from asgi_guard.oauth.local import LocalProvider
from asgi_guard.provider_tokens import MemoryProviderTokenStore
from asgi_guard.sealing import SealingKeyRing

if TYPE_CHECKING:
    from collections.abc import Mapping

    from asgi_guard.auth import TokenService
    from asgi_guard.sessions import SessionCookies

PROVIDERS: Final = ("twitch", "discord", "slack", "google")
LABELS: Final = {"twitch": "Twitch", "discord": "Discord", "slack": "Slack", "google": "YouTube (Google)"}
COMMUNITY: Final = "42"


@dataclass
class DemoLogin:
    """The login app and what it runs against."""

    app: OAuthApp
    routes: list[BaseRoute]
    local: dict[str, LocalProvider] = field(default_factory=dict)
    real: tuple[str, ...] = ()


class _LocalFirst(httpx2.AsyncBaseTransport):
    """Calls to the bundled providers are answered in-process; everything else goes to the network."""

    def __init__(self, prefix: str, local: httpx2.AsyncBaseTransport) -> None:
        self.prefix = prefix
        self.local = local
        # No idle pooled connections, as OAuthApp's own client: a provider's closed socket never stalls a login.
        self.network = httpx2.AsyncHTTPTransport(limits=httpx2.Limits(max_keepalive_connections=0))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        target = self.local if str(request.url).startswith(self.prefix) else self.network
        return await target.handle_async_request(request)

    async def aclose(self) -> None:
        await self.network.aclose()


def _real(name: str, environ: Mapping[str, str]) -> providers.Provider | None:
    client_id = environ.get(f"ASGI_GUARD_DEMO_{name.upper()}_CLIENT_ID", "")
    secret = environ.get(f"ASGI_GUARD_DEMO_{name.upper()}_CLIENT_SECRET", "")
    if not client_id or not secret:
        return None
    factory = {"twitch": providers.twitch, "discord": providers.discord, "slack": providers.slack}.get(name)
    if factory is not None:
        return factory(client_id, secret)
    return providers.google(client_id, secret, youtube_scopes=(providers.YOUTUBE_READONLY,))


async def _on_login(identity: ProviderIdentity) -> SessionUser:
    # A real platform looks the identity up in its user table (creating the user on first login).
    return SessionUser(
        id=f"{identity.provider}:{identity.subject}",
        username=identity.username or identity.name or identity.subject,
        email=identity.email,
        roles=("user",),
        communities=(COMMUNITY,),
    )


def demo_login(
    public_url: str,
    tokens: TokenService,
    cookies: SessionCookies,
    *,
    environ: Mapping[str, str] | None = None,
) -> DemoLogin:
    """The demo's login app for the site at ``public_url`` (local providers unless the env names real ones)."""
    env = os.environ if environ is None else environ
    idp_base = f"{public_url}/idp"
    local: dict[str, LocalProvider] = {}
    chosen: list[providers.Provider] = []
    real: list[str] = []
    for name in PROVIDERS:
        provider = _real(name, env)
        if provider is None:
            idp = LocalProvider(
                name,
                f"{idp_base}/{name}",
                client_id=f"asgi-guard-demo-{name}",
                client_secret=secrets.token_urlsafe(24),
                redirect_uris=(f"{public_url}/auth/{name}/callback",),
            )
            local[name] = idp
            provider = idp.provider()
        else:
            real.append(name)
        chosen.append(provider)
    idps = Starlette(routes=[Mount(f"/idp/{name}", app=idp.app) for name, idp in local.items()])
    ring = SealingKeyRing({"demo": secrets.token_bytes(32)}, current="demo")
    config = OAuthConfig(
        providers=tuple(chosen),
        public_url=f"{public_url}/auth",
        flow_secret=secrets.token_bytes(32),
        on_login=_on_login,
        tokens=tokens,
        session="cookies",
        session_cookies=cookies,
        provider_tokens=ProviderTokens(MemoryProviderTokenStore(ring)),
        allowed_next=("/app",),
        default_next="/app",
        transport=_LocalFirst(idp_base + "/", httpx2.ASGITransport(app=idps)),
    )
    login = OAuthApp(config)
    routes: list[BaseRoute] = [Mount("/auth", app=login), *idps.routes]
    return DemoLogin(app=login, routes=routes, local=local, real=tuple(real))


def login_links() -> str:
    """The login page's provider buttons (HTML)."""
    return "".join(
        f"<p><a href='/auth/{name}/login?next=/app' id='login-{name}'>Log in with {LABELS[name]}</a></p>"
        for name in PROVIDERS
    )


__all__ = ("LABELS", "PROVIDERS", "DemoLogin", "demo_login", "login_links")
