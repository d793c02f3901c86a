"""Configuration is checked at construction; the next-path filter and the flow cookie hold their invariants."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_guard.auth import KeyRing, MemoryRevocationStore, TokenService
from asgi_guard.errors import ConfigurationError
from asgi_guard.oauth import OAuthConfig, Provider, SessionUser, discord, google, slack, twitch
from asgi_guard.oauth.flow import FlowCookies, FlowState
from asgi_guard.oauth.next_url import safe_next

TOKENS = TokenService(KeyRing.single("s" * 48, kid="t1"), MemoryRevocationStore())


async def _hook(identity: Any) -> SessionUser:
    return SessionUser(id="u")


def _config(**changes: Any) -> OAuthConfig:
    options: dict[str, Any] = {
        "providers": (twitch("id", "secret"),),
        "public_url": "https://example.com/auth",
        "flow_secret": b"x" * 32,
        "on_login": _hook,
        "tokens": TOKENS,
    }
    options.update(changes)
    return OAuthConfig(**options)


def test_real_provider_endpoints() -> None:
    """The factories carry the providers' documented endpoints, auth methods and PKCE support."""
    assert twitch("i", "s").token_url == "https://id.twitch.tv/oauth2/token"
    assert twitch("i", "s").token_auth == "client_secret_post"
    assert not twitch("i", "s").pkce
    assert discord("i", "s").revoke_url == "https://discord.com/api/oauth2/token/revoke"
    assert discord("i", "s").pkce
    assert slack("i", "s").issuer == "https://slack.com"
    assert google("i", "s").jwks_uri == "https://www.googleapis.com/oauth2/v3/certs"
    assert ("access_type", "offline") in google("i", "s").authorize_params
    assert "secret" not in repr(twitch("i", "secret"))


def test_config_repr_never_shows_the_flow_secret() -> None:
    """The flow secret seals every login's state cookie: it never reaches a repr (a log or a traceback)."""
    secret = b"flow-secret-" + b"z" * 32
    config = _config(flow_secret=secret)
    for text in (repr(config), str(config)):
        assert "flow-secret" not in text
        assert "zzzz" not in text
        assert "flow_secret=<redacted>" in text
        assert "https://example.com/auth" in text  # what is not secret still helps debugging


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Bad Name"}, "lower-case name"),
        ({"client_id": ""}, "client_id"),
        ({"client_secret": ""}, "client_secret"),
        ({"token_url": "http://id.example/token"}, "https"),
        ({"issuer": ""}, "issuer and jwks_uri"),
        ({"openid": False, "profile": "id_token"}, "profile='userinfo'"),
        ({"profile_url": ""}, "profile_url"),
        ({"profile": "userinfo", "userinfo_url": ""}, "userinfo_url"),
        ({"revoke_url": ""}, "revoke_url"),
        ({"id_token_algorithms": ("RS256", "HS256")}, "asymmetric"),
        ({"id_token_algorithms": ("none",)}, "asymmetric"),
        ({"refresh_margin": -1.0}, "refresh_margin"),
    ],
)
def test_provider_misconfiguration(change: dict[str, Any], message: str) -> None:
    """Each impossible or unsafe provider setting is a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match=message):
        msgspec.structs.replace(twitch("id", "secret"), **change)


def test_public_client_needs_no_secret() -> None:
    """token_auth='none' (a public client) needs no secret."""
    provider = msgspec.structs.replace(discord("id", "s"), client_secret="", token_auth="none")
    assert isinstance(provider, Provider)


def _built(**change: Any) -> FlowCookies:
    config = _config(**change)
    return FlowCookies(config.flow_secret, max_age=config.flow_max_age)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"providers": ()}, "at least one provider"),
        ({"providers": (twitch("a", "b"), twitch("c", "d"))}, "unique"),
        ({"public_url": "https://example.com/auth/"}, "trailing"),
        ({"public_url": "https://example.com/auth?x=1"}, "trailing"),
        ({"public_url": "http://example.com/auth"}, "https"),
        ({"on_login": "nope"}, "async callable"),
        ({"tokens": object()}, "TokenService"),
        ({"session": "cookies"}, "session_cookies"),
        ({"allowed_next": ("//evil",)}, "single /"),
        ({"default_next": "https://x"}, "single /"),
        ({"timeout": 0.0}, "timeout"),
        ({"used_states": object()}, "ReplayStore"),
        ({"flow_secret": b"short"}, "32 random bytes"),
        ({"flow_max_age": 5.0}, "max_age"),
    ],
)
def test_login_app_misconfiguration(change: dict[str, Any], message: str) -> None:
    """Each impossible login-app setting is refused at construction (the flow cookie's when it is built)."""
    with pytest.raises(ConfigurationError, match=message):
        _built(**change)


def test_loopback_http_is_allowed_for_development() -> None:
    """Plain http is accepted on loopback only, and the redirect URI comes from the configuration."""
    config = _config(public_url="http://127.0.0.1:8000/auth")
    assert config.redirect_uri("twitch") == "http://127.0.0.1:8000/auth/twitch/callback"


ALLOWED = ("/app", "/profile/")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/app"),
        ("", "/app"),
        ("/app", "/app"),
        ("/app/x?y=1#z", "/app/x?y=1#z"),
        ("/profile/me", "/profile/me"),
        ("/application", None),
        ("https://evil.example", None),
        ("//evil.example", None),
        ("/\\evil.example", None),
        ("/app/..%2F..%2Fadmin", None),
        ("/app/%2e%2e/admin", None),
        ("/app/../admin", None),
        ("/app\n", None),
        ("/app x", None),
        ("app", None),
        ("/" + "a" * 3000, None),
    ],
)
def test_safe_next_table(value: str | None, expected: str | None) -> None:
    """Only relative paths under the allow-list pass; everything that could leave the site is refused."""
    assert safe_next(value, ALLOWED, "/app") == expected


@given(st.text(max_size=60))
def test_safe_next_never_yields_an_off_site_target(value: str) -> None:
    """Whatever comes in, what goes out is None or one path on this site under the allow-list."""
    result = safe_next(value, ALLOWED, "/app")
    if result is not None:
        assert result.startswith("/")
        assert not result.startswith("//")
        assert "\\" not in result
        assert result == "/app" or result.startswith(("/app", "/profile/"))


def test_flow_cookie_round_trip_and_expiry() -> None:
    """A sealed flow opens within max_age, not after, not when altered; Secure cookies use __Host-."""
    cookies = FlowCookies(b"k" * 32, max_age=600)
    flow = FlowState(provider="p", state="s" * 43, nonce="n", verifier="v", next="/", issued_at=1000.0)
    name, value = cookies.seal(flow)
    assert name == "__Host-oauth-" + "s" * 12
    assert cookies.open(value, now=1500.0) == flow
    assert cookies.open(value, now=1601.0) is None
    assert cookies.open(value[:-2] + "AA", now=1500.0) is None
    assert cookies.open("not base64 !", now=1500.0) is None
    assert FlowCookies(b"j" * 32).open(value, now=1500.0) is None
    header = cookies.header(name, value)
    assert header.endswith(b"; Secure")
    assert b"Max-Age=0" in cookies.header(name, "")
    assert cookies.name_for("short") == ""
    assert cookies.name_for("x" * 20 + "!") == ""


def test_flow_state_repr_never_shows_the_nonce_or_verifier() -> None:
    """The login in flight's secrets stay out of logs and tracebacks."""
    from asgi_guard.oauth.flow import FlowState

    flow = FlowState(provider="discord", state="s" * 43, nonce="n-secret", verifier="v-secret", next="/", issued_at=1.0)
    assert "n-secret" not in repr(flow)
    assert "v-secret" not in repr(flow)
    assert "s" * 43 not in repr(flow)
