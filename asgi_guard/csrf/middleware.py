"""``CSRFMiddleware``: refuse cross-site unsafe requests that ride on a cookie session.

Decision, for ``http`` requests whose principal authenticated with an ambient credential (a cookie)
and whose method is not safe (GET, HEAD, OPTIONS pass); bearer and API-key requests and verified
webhooks are never checked, since no browser attaches those on its own:

1. ``Origin`` in ``trusted_origins``: pass.
2. ``Sec-Fetch-Site`` present: ``same-origin`` passes, anything else (``same-site``, ``cross-site``,
   ``none``, junk) fails. Fetch Metadata is written by the browser and cannot be set by a page.
3. Else ``Origin`` present: it must equal the request's own origin (``null`` never does).
4. Else ``Referer`` present: its origin must equal the request's own origin or a trusted one.
5. Else (neither header: an old or privacy-stripped client): a valid signed token is required, from
   the ``X-CSRF-Token`` header or the form field.

With ``require_token`` the token is required after a pass of 1-4 too. A duplicated ``Sec-Fetch-Site``,
``Origin``, ``Referer`` or token header fails. Websocket handshakes of an ambient principal must
come from the own or a trusted origin (cross-site websocket hijacking). Every refusal is
403 ``csrf_failed`` with a ``csrf_failure`` event whose reason names the check.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl

from asgi_guard._body import ClientDisconnected, read_body
from asgi_guard._headers import get_all
from asgi_guard._responses import send_denial
from asgi_guard.context import GuardContext
from asgi_guard.csrf.helpers import CSRFState
from asgi_guard.csrf.origin import normalize_origin, request_origin
from asgi_guard.csrf.tokens import CSRFTokens, session_binding
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.events.emit import clean

if TYPE_CHECKING:
    from asgi_guard.csrf.config import CSRFConfig
    from asgi_guard.principal import Principal
    from asgi_guard.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM: Final = b"application/x-www-form-urlencoded"
_MULTIPART: Final = b"multipart/form-data"
MAX_NESTED_PARTS: Final = 8
"""Multipart bodies declaring more nested ``multipart/`` parts are refused unparsed: the stdlib parser
recurses per level (seconds of CPU for a few dozen kilobytes, then ``RecursionError``)."""
MAX_FORM_PARTS: Final = 1000
"""Multipart bodies with more parts are refused unparsed (Starlette's own ``max_fields``): the stdlib
parser spends seconds on a megabyte of tiny parts."""


def _fail(check: str, reason: str) -> GuardError:
    return GuardError(ErrorCode.CSRF_FAILED, f"{check}:{reason}")


def _unique(scope: Scope, name: bytes) -> str | None:
    values = get_all(scope, name)
    if not values:
        return None
    if len(values) > 1:
        raise _fail("duplicate_header", name.decode("latin-1"))
    return values[0].decode("latin-1").strip()


class CSRFMiddleware:
    """Checks unsafe cookie-authenticated requests per :class:`CSRFConfig` (see the module docstring).

    Args:
        app: the wrapped ASGI app.
        config: the configuration.
    """

    __slots__ = ("_header", "_state", "_trusted", "app", "config")

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        self.app = app
        self.config = config
        self._trusted = config.origins()
        self._header = config.header.encode("latin-1")
        self._state = CSRFState(CSRFTokens(config.keys()), config.header, config.form_field)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ctx, send = GuardContext.enter(scope, send)
        ctx.csrf = self._state  # the page helpers issue tokens with it
        principal: Principal | None = ctx.principal
        if principal is None or not principal.ambient or ctx.webhook is not None:
            await self.app(scope, receive, send)
            return
        try:
            if kind == "websocket":
                self._check_websocket(scope)
            elif scope.get("method", "GET") not in SAFE_METHODS:
                passed = self.check_headers(scope)
                if not passed or self.config.require_token:
                    receive = await self._check_token(scope, receive, principal)
        except GuardError as error:
            # The failed check, for dashboards; a form body refused while looking for the token is "form".
            check = error.reason.partition(":")[0] if error.code is ErrorCode.CSRF_FAILED else "form"
            await send_denial(scope, send, error, fmt=self.config.error_format, check=check)
            return
        except ClientDisconnected:
            return
        await self.app(scope, receive, send)

    def check_headers(self, scope: Scope) -> bool:
        """Steps 1-4: ``True`` when the headers show a same-origin (or trusted) request, ``False``
        when there are none to tell and a token must decide.

        Raises:
            GuardError: ``csrf_failed`` naming the failed check.
        """
        _unique(scope, self._header)  # a duplicated token header is refused even when no token is needed
        site = _unique(scope, b"sec-fetch-site")
        raw_origin = _unique(scope, b"origin")
        raw_referer = _unique(scope, b"referer")
        origin = normalize_origin(raw_origin) if raw_origin else None
        if origin is not None and origin in self._trusted:
            return True
        if site is not None:
            if site == "same-origin":
                return True
            raise _fail("fetch_metadata", f"sec_fetch_site={clean(site, 32)}")
        if raw_origin is not None:
            if raw_origin == "null":
                raise _fail("origin", "null")
            if origin is None:
                raise _fail("origin", "malformed")
            if origin == request_origin(scope):
                return True
            raise _fail("origin", "mismatch")
        if raw_referer is not None:
            referer = normalize_origin(raw_referer, allow_path=True)
            if referer is None:
                raise _fail("referer", "malformed")
            if referer in self._trusted or referer == request_origin(scope):
                return True
            raise _fail("referer", "mismatch")
        return False

    def _check_websocket(self, scope: Scope) -> None:
        raw_origin = _unique(scope, b"origin")
        if raw_origin is None:
            return  # not a browser: browsers always send Origin on a websocket handshake
        origin = normalize_origin(raw_origin)
        if origin is None or (origin not in self._trusted and origin != request_origin(scope)):
            raise _fail("websocket_origin", "mismatch")

    async def _check_token(self, scope: Scope, receive: Receive, principal: Principal) -> Receive:
        """Step 5: a valid token from the header or the form body (replayed to the app)."""
        token = _unique(scope, self._header)
        if token is None:
            token, receive = await self._form_token(scope, receive)
        if not token:
            raise _fail("token", "missing")
        binding = session_binding(principal)
        if binding is None or not self._state.tokens.verify(token, binding):
            raise _fail("token", "invalid")
        return receive

    async def _form_token(self, scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
        values = get_all(scope, b"content-type")
        if len(values) != 1:
            return None, receive
        content_type = values[0]
        media = content_type.partition(b";")[0].strip().lower()
        if media not in (_FORM, _MULTIPART):
            return None, receive
        body, receive = await read_body(scope, receive, self.config.max_form_bytes)
        field = self.config.form_field
        if media == _FORM:
            found = [
                value for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True) if name == field
            ]
        else:
            lowered = body.lower()
            if lowered.count(b"multipart/") > MAX_NESTED_PARTS:
                raise _fail("token", "form_too_nested")
            if lowered.count(b"content-disposition") > MAX_FORM_PARTS:
                raise _fail("token", "form_too_many_parts")
            message = BytesParser(policy=HTTP).parsebytes(b"content-type: " + content_type + b"\r\n\r\n" + body)
            found = []
            if message.is_multipart():
                for part in message.iter_parts():
                    if part.get_param("name", header="content-disposition") == field:
                        payload = part.get_payload(decode=True)
                        found.append(payload.decode("latin-1").strip() if isinstance(payload, bytes) else "")
        if len(found) > 1:
            raise _fail("token", "duplicate_field")
        return (found[0] if found else None), receive


__all__ = ("MAX_FORM_PARTS", "MAX_NESTED_PARTS", "SAFE_METHODS", "CSRFMiddleware")
