"""OpenID Connect discovery: a provider's endpoints from its ``/.well-known/openid-configuration``."""

from __future__ import annotations

import httpx2
import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.oauth.providers import DiscoveryDocument, Provider, generic_oidc


async def discover(
    name: str,
    issuer: str,
    client_id: str,
    client_secret: str,
    *,
    scopes: tuple[str, ...] = ("openid", "email", "profile"),
    http: httpx2.AsyncClient | None = None,
) -> Provider:
    """A :class:`Provider` for the OpenID Provider at ``issuer`` (call once at start-up).

    The document's ``issuer`` must equal ``issuer`` exactly (OIDC Discovery §4.3: otherwise a
    document could redirect us to anyone's keys).

    Raises:
        ConfigurationError: the document cannot be fetched, is malformed, or names another issuer.
    """
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    client = http if http is not None else httpx2.AsyncClient(timeout=10.0)
    try:
        response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = msgspec.json.decode(response.content, type=DiscoveryDocument)
    except (httpx2.HTTPError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ConfigurationError.expected("a valid OpenID discovery document", type(exc).__name__, url) from exc
    finally:
        if http is None:
            await client.aclose()
    if document.issuer != issuer:
        raise ConfigurationError.expected(f"issuer {issuer!r}", document.issuer, url)
    return generic_oidc(name, client_id, client_secret, document, scopes=scopes)


__all__ = ("discover",)
