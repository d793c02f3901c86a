"""The mountable login app: ``/{provider}/login``, ``/{provider}/callback``, ``/logout``, ``/refresh``.

Mount it at e.g. ``/auth`` in Starlette (``Mount("/auth", app)``), FastAPI (``app.mount``), Litestar
(``@asgi("/auth", is_mount=True)``) or any ASGI router. Every login, failure, refresh and logout is
a security event; every failure is a clear page (browsers) or JSON ``{error, detail}``, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

import httpx2
import msgspec
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, Router

from asgi_guard._body import ClientDisconnected, read_body
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.events.emit import emit
from asgi_guard.oauth.client import ProviderClient
from asgi_guard.oauth.errors import LOGIN_DETAIL, LoginError, LoginErrorCode, ProviderError
from asgi_guard.oauth.flow import FlowCookies, FlowState, random_token
from asgi_guard.oauth.idtoken import JWKSCache
from asgi_guard.oauth.next_url import safe_next
from asgi_guard.sessions import clear_session, read_cookie, refresh_session, set_session
from asgi_guard.webhooks.replay import MemoryReplayStore, ReplayStoreUnavailable

if TYPE_CHECKING:
    from starlette.requests import Request

    from asgi_guard.auth.tokens import TokenPair
    from asgi_guard.oauth.config import OAuthConfig
    from asgi_guard.oauth.identity import SessionUser
    from asgi_guard.types import Receive, Scope, Send

NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_BODY: Final = 16 * 1024


class OAuthApp:
    """The login app for :class:`~asgi_guard.oauth.config.OAuthConfig` (an ASGI app).

    Refusals (``LoginErrorCode``): ``unknown_provider`` 404; ``invalid_state`` 400 (missing,
    forged, expired, mismatched or replayed state); ``access_denied`` 403 (declined at the
    provider); ``login_refused`` 403 (the login hook said no); ``provider_error`` 502 (bad code,
    invalid id_token, garbage); ``provider_unavailable`` 503 (timeout, 5xx); ``service_unavailable``
    503 (our state or token store is down); ``invalid_session`` 401 on ``/refresh`` and ``/logout``.
    """

    def __init__(self, config: OAuthConfig) -> None:
        self.config = config
        self.flows = FlowCookies(config.flow_secret, max_age=config.flow_max_age, secure=config.secure_cookies)
        # No keep-alive: provider calls are rare (logins, refreshes), and a mounted app gets no lifespan
        # shutdown to close idle pooled connections, which would then outlive the server's loop.
        self.http = httpx2.AsyncClient(
            timeout=config.timeout, transport=config.transport, limits=httpx2.Limits(max_keepalive_connections=0)
        )
        self.jwks = JWKSCache(self.http, clock=config.clock)
        self.clients = {
            provider.name: ProviderClient(
                provider,
                http=self.http,
                jwks=self.jwks,
                timeout=config.timeout,
                transport=config.transport,
                clock=config.clock,
            )
            for provider in config.providers
        }
        self.used_states: Any = config.used_states or MemoryReplayStore(clock=config.clock)
        self.provider_tokens: Any = config.provider_tokens
        if self.provider_tokens is not None:
            self.provider_tokens.attach(self.clients)
        self._router = Router(
            routes=[
                Route("/{provider}/login", self._login, methods=["GET"]),
                Route("/{provider}/callback", self._callback, methods=["GET"]),
                Route("/refresh", self._refresh, methods=["POST"]),
                Route("/logout", self._logout, methods=["POST"]),
            ],
            redirect_slashes=False,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._router.lifespan(scope, receive, send)
            return
        path = scope.get("path", "")
        if len(path) > 1 and path.endswith("/"):
            # Litestar's mounts hand over "/twitch/login/"; no route of ours ends in a slash.
            scope = {**scope, "path": path.rstrip("/")}
        await self._router(scope, receive, send)

    async def aclose(self) -> None:
        """Close the HTTP client (call at shutdown)."""
        await self.http.aclose()

    # -- login ---------------------------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        try:
            client = self._client(request)
        except LoginError as error:
            return self._fail(request, error)
        provider = client.provider.name
        requested = request.query_params.get("next")
        target = safe_next(requested, self.config.allowed_next, self.config.default_next)
        if target is None:
            emit(request.scope, "login_next_refused", "deny", "next_not_allowed", provider=provider)
            target = self.config.default_next
        flow = FlowState(
            provider=provider,
            state=random_token(),
            nonce=random_token(),
            verifier=random_token(),
            next=target,
            issued_at=self.config.clock.time(),
        )
        url = client.authorization_url(
            self.config.redirect_uri(provider), state=flow.state, nonce=flow.nonce, verifier=flow.verifier
        )
        name, value = self.flows.seal(flow)
        response = RedirectResponse(url, status_code=302, headers=NO_STORE)
        response.raw_headers.append((b"set-cookie", self.flows.header(name, value)))
        emit(request.scope, "login_started", "allow", provider=provider)
        return response

    # -- callback ------------------------------------------------------------------------------------

    async def _callback(self, request: Request) -> Response:
        state = request.query_params.get("state", "")
        cookie_name = self.flows.name_for(state)
        try:
            client = self._client(request)
            flow = await self._check_state(request, client.provider.name, state, cookie_name)
            error = request.query_params.get("error")
            if error is not None:
                raise LoginError(LoginErrorCode.ACCESS_DENIED, f"provider_{_short(error)}")
            code = request.query_params.get("code")
            if not code:
                raise LoginError(LoginErrorCode.PROVIDER_ERROR, "code_missing")
            user, pair = await self._complete(client, flow, code)
        except LoginError as failure:
            response = self._fail(request, failure)
        else:
            provider = client.provider.name
            emit(request.scope, "login", "allow", provider=provider, user=user.id)
            response = self._issue(request, pair, flow.next)
        if cookie_name:
            response.raw_headers.append((b"set-cookie", self.flows.header(cookie_name, "")))
        return response

    async def _check_state(self, request: Request, provider: str, state: str, cookie_name: str) -> FlowState:
        if not state or not cookie_name:
            raise LoginError(LoginErrorCode.INVALID_STATE, "state_missing")
        sealed = request.cookies.get(cookie_name)
        if not sealed:
            raise LoginError(LoginErrorCode.INVALID_STATE, "state_cookie_missing")
        flow = self.flows.open(sealed, now=self.config.clock.time())
        if flow is None:
            raise LoginError(LoginErrorCode.INVALID_STATE, "state_cookie_invalid")
        if not hmac.compare_digest(flow.state, state) or flow.provider != provider:
            raise LoginError(LoginErrorCode.INVALID_STATE, "state_mismatch")
        key = b"oauth-state:" + hashlib.sha256(state.encode()).digest()
        try:
            first_use = await self.used_states.remember(key, self.flows.max_age)
        except ReplayStoreUnavailable as exc:  # cannot tell a replay from a first use: fail closed
            raise LoginError(LoginErrorCode.SERVICE_UNAVAILABLE, "state_store_unavailable") from exc
        if not first_use:
            raise LoginError(LoginErrorCode.INVALID_STATE, "state_replayed")
        return flow

    async def _complete(self, client: ProviderClient, flow: FlowState, code: str) -> tuple[SessionUser, TokenPair]:
        provider = client.provider.name
        try:
            tokens = await client.exchange(code, self.config.redirect_uri(provider), verifier=flow.verifier)
            identity = await client.identity(tokens, nonce=flow.nonce)
        except ProviderError as exc:
            raise exc.as_login_error() from exc
        user = await self.config.on_login(identity)
        if user is None:
            raise LoginError(LoginErrorCode.LOGIN_REFUSED, "hook_refused")
        if self.provider_tokens is not None:
            try:
                await self.provider_tokens.store_tokens(user.id, provider, tokens, provider_user_id=identity.subject)
            except Exception as exc:  # the token store (Redis, SQL) failed: no session without the tokens
                raise LoginError(LoginErrorCode.SERVICE_UNAVAILABLE, f"token_store:{type(exc).__name__}") from exc
        pair = self.config.tokens.issue_pair(
            user.id, username=user.username, email=user.email, roles=user.roles, communities=user.communities
        )
        return user, pair

    def _issue(self, request: Request, pair: TokenPair, target: str) -> Response:
        if self.config.session == "cookies":
            # A browser login: the session goes into the cookies, the browser on to `next`.
            response = RedirectResponse(target, status_code=303, headers=NO_STORE)
            set_session(response, pair, self.config.session_cookies)
            return response
        return JSONResponse({**msgspec.to_builtins(pair), "next": target}, headers=NO_STORE)

    # -- session -------------------------------------------------------------------------------------

    def _cookie(self, request: Request, name: str) -> str:
        try:
            return read_cookie(request.scope, name) or ""
        except GuardError:  # duplicated (shadowing) or oversized cookies: use none of them
            return ""

    async def _refresh(self, request: Request) -> Response:
        cookies = self.config.session_cookies if self.config.session == "cookies" else None
        headers: list[tuple[bytes, bytes]] = []
        try:
            if cookies is not None:
                pair = await refresh_session(request, headers, self.config.tokens, cookies)
            else:
                refresh_token = await self._presented(request, "refresh_token")
                if not refresh_token:
                    raise GuardError(ErrorCode.MISSING_CREDENTIALS, "refresh_token_missing")
                pair = await self.config.tokens.refresh(refresh_token)
        except GuardError as exc:
            failure = self._fail(request, _session_error(exc), event="session_refresh")
            failure.raw_headers.extend(headers)  # refresh_session clears the cookies of a refused session
            return failure
        emit(request.scope, "session_refresh", "allow")
        if cookies is not None:
            response = JSONResponse({"status": "refreshed", "expires_in": pair.expires_in}, headers=NO_STORE)
            response.raw_headers.extend(headers)
            return response
        return JSONResponse(msgspec.to_builtins(pair), headers=NO_STORE)

    async def _logout(self, request: Request) -> Response:
        cookies = self.config.session_cookies if self.config.session == "cookies" else None
        access = _bearer(request) or (self._cookie(request, cookies.access_cookie) if cookies is not None else "")
        refresh_token = await self._presented(request, "refresh_token")
        if not refresh_token and cookies is not None:
            refresh_token = self._cookie(request, cookies.refresh_cookie)
        try:
            if not access:
                raise GuardError(ErrorCode.MISSING_CREDENTIALS, "access_token_missing")
            verified = await self.config.tokens.verify(access)
            await self.config.tokens.revoke(access)
        except GuardError as exc:
            failure = self._fail(request, _session_error(exc), event="logout")
            if cookies is not None and exc.code is not ErrorCode.SERVICE_UNAVAILABLE:
                clear_session(failure, cookies)  # whatever the browser holds is useless: drop it
            return failure
        user = str(verified.claims["sub"])
        if refresh_token:
            try:
                await self.config.tokens.revoke(refresh_token)
            except GuardError as exc:
                emit(request.scope, "logout", "deny", f"refresh_{exc.reason}", user=user)
        revoked = "0"
        if self.provider_tokens is not None:
            try:
                revoked = str(await self.provider_tokens.revoke_provider_tokens(user))
            except Exception as exc:  # the session is already revoked: finish the logout, never a 500
                emit(request.scope, "logout", "deny", f"provider_tokens:{type(exc).__name__}", user=user)
                revoked = "failed"
        emit(request.scope, "logout", "allow", user=user, provider_tokens=revoked)
        response: Response
        if "text/html" in request.headers.get("accept", ""):
            response = RedirectResponse(self.config.default_next, status_code=303, headers=NO_STORE)
        else:
            response = JSONResponse({"status": "logged_out"}, headers=NO_STORE)
        if cookies is not None:
            clear_session(response, cookies)
        return response

    async def _presented(self, request: Request, name: str) -> str:
        """``name`` from a small JSON or form body ("" when absent or malformed)."""
        kind = request.headers.get("content-type", "")
        if not kind.startswith(("application/json", "application/x-www-form-urlencoded")):
            return ""
        try:  # bounded: never more than MAX_BODY (Content-Length first), a body a layer buffered reused
            body, _ = await read_body(request.scope, request.receive, MAX_BODY)
        except (GuardError, ClientDisconnected):
            return ""
        try:
            if kind.startswith("application/json"):
                data: Any = msgspec.json.decode(body)
            else:
                data = dict(parse_qsl(body.decode("utf-8", "replace")))
        except (msgspec.DecodeError, RecursionError):  # msgspec raises RecursionError past 1,000 nested levels
            return ""
        value = data.get(name) if isinstance(data, dict) else None
        return value if isinstance(value, str) else ""

    # -- helpers -------------------------------------------------------------------------------------

    def _client(self, request: Request) -> ProviderClient:
        client = self.clients.get(request.path_params["provider"])
        if client is None:
            raise LoginError(LoginErrorCode.UNKNOWN_PROVIDER, "unknown_provider")
        return client

    def _fail(self, request: Request, error: LoginError, *, event: str = "login_failure") -> Response:
        provider = str(request.path_params.get("provider", ""))
        emit(request.scope, event, "deny", error.reason, provider=provider[:40], code=error.code.value)
        detail = LOGIN_DETAIL[error.code]
        if "text/html" in request.headers.get("accept", ""):
            page = _ERROR_PAGE.format(
                title=html.escape(error.code.value.replace("_", " ").capitalize()),
                detail=html.escape(detail),
                home=html.escape(self.config.default_next),
            )
            return HTMLResponse(page, status_code=error.status, headers=NO_STORE)
        return JSONResponse({"error": error.code.value, "detail": detail}, status_code=error.status, headers=NO_STORE)


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _session_error(exc: GuardError) -> LoginError:
    """A refused ``/refresh`` or ``/logout``: 503 when our store is down (the session may be valid), else 401."""
    if exc.code is ErrorCode.SERVICE_UNAVAILABLE:
        return LoginError(LoginErrorCode.SERVICE_UNAVAILABLE, exc.reason)
    return LoginError(LoginErrorCode.INVALID_SESSION, exc.reason)


def _short(value: str) -> str:
    return "".join(ch for ch in value[:40] if ch.isalnum() or ch in "_-.") or "error"


_ERROR_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{title}</h1><p>{detail}</p><p><a href="{home}">Back</a></p></main></body></html>
"""


def oauth_app(config: OAuthConfig) -> OAuthApp:
    """The login app for ``config`` (mount it where ``config.public_url`` points)."""
    return OAuthApp(config)


__all__ = ("OAuthApp", "oauth_app")
