"""AuthenticationMiddleware on raw ASGI: every outcome, websockets, lifespan, exclusions and events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard.auth import (
    APIKeyAuth,
    APIKeyRecord,
    AuthConfig,
    AuthenticationMiddleware,
    JWTAuth,
    KeyRing,
    MemoryAPIKeyStore,
    MemoryRevocationStore,
    RevocationUnavailable,
    create_api_key,
    hash_api_key,
)
from asgi_guard.context import get_context
from asgi_guard.principal import Principal
from asgi_guard.testing import FakeClock, MessageRecorder, call, make_scope
from asgi_guard.types import Message, Receive, Scope, Send
from tests.auth.conftest import NOW, claims, sign

pytestmark = pytest.mark.anyio

KEY = create_api_key()


class App:
    """An app that records the scopes it was called with and answers 200."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        elif scope["type"] == "websocket":
            await send({"type": "websocket.accept"})


class CountingStore(MemoryAPIKeyStore):
    """A memory store counting lookups, optionally failing."""

    def __init__(self, records: Iterable[APIKeyRecord] = (), *, fail: bool = False) -> None:
        super().__init__(list(records))
        self.gets = 0
        self.fail = fail

    async def get(self, key_hash: str) -> APIKeyRecord | None:
        self.gets += 1
        if self.fail:
            raise ConnectionError("down")
        return await super().get(key_hash)


class DownRevocation(MemoryRevocationStore):
    """A revocation store whose checks cannot be answered."""

    async def is_revoked(self, token_ids: Iterable[str]) -> bool:
        raise RevocationUnavailable("feed lost")


def _record(key: str = KEY, **overrides: Any) -> APIKeyRecord:
    fields = {"key_hash": hash_api_key(key), "owner_id": "owner-1", "name": "ci", "permissions": ["action:execute"]}
    fields.update(overrides)
    return msgspec.convert(fields, APIKeyRecord)


def _config(clock: FakeClock, **kwargs: Any) -> AuthConfig:
    store = kwargs.pop("store", None)
    revocation = kwargs.pop("revocation", None)
    store = CountingStore([_record()]) if store is None else store
    revocation = MemoryRevocationStore(clock=clock) if revocation is None else revocation
    return AuthConfig(
        api_key=APIKeyAuth(store=store),
        jwt=JWTAuth(keyring=KeyRing.single(b"k" * 32, kid="k1"), revocation=revocation, issuer=None, audience=None),
        clock=clock,
        **kwargs,
    )


def _events(scope: Scope) -> list[tuple[str, str, str]]:
    return [(event.type, event.result, event.reason) for event in get_context(scope).events]


async def _run(config: AuthConfig, scope: Scope, app: App | None = None) -> tuple[MessageRecorder, App]:
    target = app or App()
    recorder = await call(AuthenticationMiddleware(target, config), scope)
    return recorder, target


async def test_anonymous_request_gets_401_bearer_challenge_without_error(clock: FakeClock) -> None:
    """No credentials: 401 missing_credentials, `WWW-Authenticate: Bearer` with no error attribute."""
    scope = make_scope()
    recorder, app = await _run(_config(clock), scope)
    assert recorder.status == 401
    assert recorder.json() == {"error": "missing_credentials", "detail": "Authentication is required."}
    assert recorder.headers["www-authenticate"] == 'Bearer realm="api"'
    assert not app.scopes
    assert _events(scope) == [("authn_failure", "deny", "no_credentials")]


async def test_valid_jwt_sets_principal_user_and_auth(clock: FakeClock) -> None:
    """A valid bearer JWT reaches the app with the principal in the context, user and auth."""
    scope = make_scope(headers={"authorization": f"Bearer {sign(claims(permissions=['profile:view']))}"})
    recorder, app = await _run(_config(clock), scope)
    assert recorder.status == 200
    seen = app.scopes[0]
    principal = get_context(seen).principal
    assert isinstance(principal, Principal)
    assert seen["user"] is principal
    assert principal.method == "jwt"
    assert "profile:view" in seen["auth"].scopes
    assert "admin:all" not in seen["auth"].scopes
    assert _events(scope) == [("authn_success", "allow", "jwt")]


async def test_cached_token_reuses_its_principal_not_its_auth(clock: FakeClock) -> None:
    """A token seen again gets the same principal but fresh scope auth: one request's changes stay its own."""
    token = sign(claims(permissions=["profile:view"]))
    middleware = AuthenticationMiddleware(App(), _config(clock))
    seen: list[Scope] = []
    for _ in range(2):
        scope = make_scope(headers={"authorization": f"Bearer {token}"})
        recorder = await call(middleware, scope)
        assert recorder.status == 200
        assert _events(scope) == [("authn_success", "allow", "jwt")]
        assert "profile:view" in scope["auth"].scopes
        assert "admin:all" not in scope["auth"].scopes
        scope["auth"].scopes = ["admin:all"]  # an app widening its own request's view
        seen.append(scope)
    assert seen[0]["user"] is seen[1]["user"]
    assert seen[0]["auth"] is not seen[1]["auth"]


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (sign(claims(exp=int(NOW) - 5)), "token_expired"),
        (sign(claims(type="refresh")), "invalid_token"),
        (sign(claims(), b"x" * 32), "invalid_token"),
        ("a.b", "invalid_token"),
    ],
)
async def test_bad_tokens_get_invalid_token_challenge(clock: FakeClock, token: str, code: str) -> None:
    """Expired, refresh, forged and malformed tokens: 401 with `error="invalid_token"`."""
    recorder, app = await _run(_config(clock), make_scope(headers={"authorization": f"Bearer {token}"}))
    assert recorder.status == 401
    assert recorder.json()["error"] == code
    assert 'error="invalid_token"' in recorder.headers["www-authenticate"]
    assert not app.scopes


async def test_revoked_token_is_refused(clock: FakeClock) -> None:
    """A token whose jti is revoked is refused with token_revoked, cached or not."""
    revocation = MemoryRevocationStore(clock=clock)
    config = _config(clock, revocation=revocation)
    middleware = AuthenticationMiddleware(App(), config)
    headers = {"authorization": f"Bearer {sign(claims())}"}
    assert (await call(middleware, make_scope(headers=headers))).status == 200
    await revocation.revoke("jti-1", NOW + 3600)
    recorder = await call(middleware, make_scope(headers=headers))
    assert recorder.status == 401
    assert recorder.json()["error"] == "token_revoked"


async def test_unavailable_revocation_fails_closed(clock: FakeClock) -> None:
    """When revocation cannot be checked, the request is refused with 503."""
    config = _config(clock, revocation=DownRevocation(clock=clock))
    recorder, app = await _run(config, make_scope(headers={"authorization": f"Bearer {sign(claims())}"}))
    assert recorder.status == 503
    assert recorder.json()["error"] == "service_unavailable"
    assert not app.scopes


async def test_valid_api_key_authenticates_the_owner_narrowed(clock: FakeClock) -> None:
    """A valid key gives its owner's principal limited to the key's permissions, logged by fingerprint."""
    scope = make_scope(headers={"x-api-key": KEY})
    recorder, app = await _run(_config(clock), scope)
    assert recorder.status == 200
    principal = app.scopes[0]["user"]
    assert principal.method == "api_key"
    assert principal.permission_limit == frozenset({"action:execute"})
    assert _events(scope) == [("authn_success", "allow", "api_key"), ("api_key_used", "allow", "api_key")]
    events = get_context(scope).events
    assert events[1].key_fingerprint == hash_api_key(KEY)[:12]
    assert all(KEY not in msgspec.json.encode(event).decode() for event in events)


async def test_api_key_as_bearer_is_accepted(clock: FakeClock) -> None:
    """A key sent as `Authorization: Bearer <key>` authenticates like X-API-Key."""
    recorder, _ = await _run(_config(clock), make_scope(headers={"authorization": f"Bearer {KEY}"}))
    assert recorder.status == 200


async def test_malformed_key_is_refused_without_lookup(clock: FakeClock) -> None:
    """A key with a bad checksum is refused before the store is asked."""
    store = CountingStore([_record()])
    bad = KEY[:-1] + ("0" if KEY[-1] != "0" else "1")
    scope = make_scope(headers={"x-api-key": bad})
    recorder, _ = await _run(_config(clock, store=store), scope)
    assert recorder.status == 401
    assert recorder.json()["error"] == "invalid_api_key"
    assert recorder.headers["www-authenticate"] == 'ApiKey realm="api"'
    assert store.gets == 0
    assert bad not in str(_events(scope))


@pytest.mark.parametrize(
    ("record", "code"),
    [
        (None, "invalid_api_key"),
        (_record(revoked=True), "invalid_api_key"),
        (_record(expires_at=NOW), "api_key_expired"),
    ],
)
async def test_unknown_revoked_and_expired_keys(clock: FakeClock, record: APIKeyRecord | None, code: str) -> None:
    """Unknown or revoked keys are invalid; expired keys are api_key_expired."""
    store = CountingStore([record] if record is not None else [])
    recorder, _ = await _run(_config(clock, store=store), make_scope(headers={"x-api-key": KEY}))
    assert recorder.status == 401
    assert recorder.json()["error"] == code


async def test_key_store_failure_fails_closed(clock: FakeClock) -> None:
    """A store that cannot answer gives 503, never a pass."""
    store = CountingStore([_record()], fail=True)
    recorder, _ = await _run(_config(clock, store=store), make_scope(headers={"x-api-key": KEY}))
    assert recorder.status == 503


async def test_two_different_credentials_are_ambiguous(clock: FakeClock) -> None:
    """An API key and a JWT in one request: 400 malformed_request."""
    headers = {"x-api-key": KEY, "authorization": f"Bearer {sign(claims())}"}
    recorder, app = await _run(_config(clock), make_scope(headers=headers))
    assert recorder.status == 400
    assert recorder.json()["error"] == "malformed_request"
    assert not app.scopes


async def test_excluded_and_optional_paths(clock: FakeClock) -> None:
    """Excluded paths skip authentication; optional paths admit anonymous callers but check sent tokens."""
    config = _config(clock, exclude=("/health",), optional=("/public/{rest:path}",))
    recorder, app = await _run(config, make_scope(path="/health"))
    assert recorder.status == 200
    assert "user" not in app.scopes[0]
    recorder, app = await _run(config, make_scope(path="/public/feed"))
    assert recorder.status == 200
    assert not app.scopes[0]["user"].is_authenticated
    assert list(app.scopes[0]["auth"].scopes) == []
    recorder, _ = await _run(config, make_scope(path="/public/feed", headers={"authorization": "Bearer a.b.c"}))
    assert recorder.status == 401
    recorder, _ = await _run(config, make_scope(path="/private"))
    assert recorder.status == 401


async def test_cors_preflight_is_skipped_by_default(clock: FakeClock) -> None:
    """OPTIONS with Origin and Access-Control-Request-Method passes; a plain OPTIONS or disabled skipping does not."""
    preflight = {"access-control-request-method": "POST", "origin": "https://app.example"}
    recorder, _ = await _run(_config(clock), make_scope("OPTIONS", headers=preflight))
    assert recorder.status == 200
    recorder, _ = await _run(_config(clock), make_scope("OPTIONS"))
    assert recorder.status == 401
    recorder, _ = await _run(_config(clock, skip_preflight=False), make_scope("OPTIONS", headers=preflight))
    assert recorder.status == 401


async def test_options_without_origin_is_not_a_preflight(clock: FakeClock) -> None:
    """OPTIONS with Access-Control-Request-Method but no Origin is no CORS preflight: it must authenticate."""
    recorder, _ = await _run(_config(clock), make_scope("OPTIONS", headers={"access-control-request-method": "POST"}))
    assert recorder.status == 401


async def test_websocket_is_authenticated(clock: FakeClock) -> None:
    """A websocket without credentials is closed with 1008 before accept; with a token it reaches the app."""
    denied, app = await _run(_config(clock), make_scope(type="websocket"))
    assert denied.messages == [{"type": "websocket.close", "code": 1008, "reason": "missing_credentials"}]
    assert not app.scopes
    scope = make_scope(type="websocket", headers={"authorization": f"Bearer {sign(claims())}"})
    accepted, app = await _run(_config(clock), scope)
    assert accepted.messages == [{"type": "websocket.accept"}]
    assert app.scopes[0]["user"].id == "user-1"


async def test_other_scope_types_pass_through(clock: FakeClock) -> None:
    """Scopes other than http, websocket and lifespan are not touched."""
    app = App()
    scope: Scope = {"type": "custom"}
    await AuthenticationMiddleware(app, _config(clock))(scope, _no_receive, MessageRecorder())
    assert app.scopes == [scope]


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


async def test_user_authenticators_run_after_built_ins(clock: FakeClock) -> None:
    """A custom authenticator can accept another scheme; an unclaimed scheme is an invalid token."""

    async def basic(scope: Scope) -> Principal | None:
        for key, value in scope["headers"]:
            if key == b"authorization" and value == b"Basic c2VydmljZTpvaw==":
                return Principal("service", method="basic")
        return None

    config = _config(clock, authenticators=(basic,))
    scope = make_scope(headers={"authorization": "Basic c2VydmljZTpvaw=="})
    recorder, app = await _run(config, scope)
    assert recorder.status == 200
    assert app.scopes[0]["user"].id == "service"
    recorder, _ = await _run(config, make_scope(headers={"authorization": "Basic bm9wZTpubw=="}))
    assert recorder.status == 401
    assert recorder.json()["error"] == "invalid_token"
    recorder, _ = await _run(config, make_scope())
    assert recorder.json()["error"] == "missing_credentials"


async def test_only_custom_authenticators_and_api_key_headers(clock: FakeClock) -> None:
    """Without API-key auth configured, a key header is ignored; an unclaimed key is refused when keys are on."""

    async def nobody(scope: Scope) -> Principal | None:
        return None

    config = AuthConfig(authenticators=(nobody,), clock=clock)
    recorder, _ = await _run(config, make_scope(headers={"x-api-key": KEY}))
    assert recorder.json()["error"] == "missing_credentials"
    recorder, _ = await _run(config, make_scope(headers={"authorization": "Bearer a.b.c"}))
    assert recorder.json()["error"] == "invalid_token"


async def test_problem_format_and_scope_user_off(clock: FakeClock) -> None:
    """Denials can use RFC 9457; with populate_scope_user off only the context is set."""
    recorder, _ = await _run(_config(clock, error_format="problem"), make_scope())
    assert recorder.headers["content-type"] == "application/problem+json"
    assert recorder.json()["code"] == "missing_credentials"
    recorder, app = await _run(
        _config(clock, populate_scope_user=False), make_scope(headers={"authorization": f"Bearer {sign(claims())}"})
    )
    assert "user" not in app.scopes[0]
    assert get_context(app.scopes[0]).principal is not None
    recorder, app = await _run(_config(clock, populate_scope_user=False, optional=("/",)), make_scope())
    assert "user" not in app.scopes[0]


async def test_lifespan_starts_and_flushes_background_work(clock: FakeClock) -> None:
    """Lifespan passes through; startup starts the stores, shutdown flushes last-used times."""
    store = CountingStore([_record()])
    middleware = AuthenticationMiddleware(App(), _config(clock, store=store))
    assert (await call(middleware, make_scope(headers={"x-api-key": KEY}))).status == 200
    assert middleware.last_used is not None
    assert middleware.last_used.pending == 1

    async def lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.complete"})
        assert (await receive())["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})

    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> Message:
        return next(messages)

    recorder = MessageRecorder()
    wrapped = AuthenticationMiddleware(lifespan_app, middleware.config)
    wrapped_tracker = wrapped.last_used
    assert wrapped_tracker is not None
    wrapped_tracker.note(hash_api_key(KEY))
    await wrapped(make_scope(type="lifespan"), receive, recorder)
    assert [m["type"] for m in recorder.messages] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    record = await store.get(hash_api_key(KEY))
    assert record is not None
    assert record.last_used_at == NOW


async def test_last_used_tracking_can_be_disabled(clock: FakeClock) -> None:
    """With `last_used_interval=0` no tracker exists and startup/shutdown still work."""
    config = AuthConfig(api_key=APIKeyAuth(store=CountingStore([_record()]), last_used_interval=0), clock=clock)
    middleware = AuthenticationMiddleware(App(), config)
    assert middleware.last_used is None
    await middleware.startup()
    assert (await call(middleware, make_scope(headers={"x-api-key": KEY}))).status == 200
    await middleware.shutdown()


HEADER_VALUES = st.binary(max_size=120) | st.sampled_from(
    [b"Bearer", b"Bearer ", b"Bearer a.b.c", KEY.encode(), b"Bearer " + KEY.encode(), b"Basic x", b"\xff\xfe"]
)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from([b"authorization", b"Authorization", b"x-api-key", b"X-API-KEY", b"x-other"]), HEADER_VALUES
        ),
        max_size=4,
    )
)
async def test_hostile_headers_never_pass_or_crash(headers: list[tuple[bytes, bytes]]) -> None:
    """Any mix of credential headers is a 2xx only for the real key, else a 4xx JSON error, never a 500."""
    clock = FakeClock(NOW)
    recorder, app = await _run(_config(clock), make_scope(headers=headers))
    if recorder.status == 200:
        values = [value for name, value in headers if name.lower() in (b"authorization", b"x-api-key")]
        assert all(KEY.encode() in value for value in values)
        assert app.scopes[0]["user"].method == "api_key"
    else:
        assert recorder.status in (400, 401)
        assert recorder.json()["error"] in {
            "malformed_request",
            "missing_credentials",
            "invalid_token",
            "invalid_api_key",
        }
