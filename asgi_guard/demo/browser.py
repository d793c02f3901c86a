"""The demo's browser pages: log in as a demo user, post to the community board with a form or
``fetch``, log out. The session lives in ``__Host-`` cookies; CSRF tokens come from the page helpers.

A real login would come from the OAuth login app; this form picks one of the demo users. The login
form itself is not CSRF-protected (there is no session yet): a forced login into a demo account is
the "login CSRF" the OAuth flow's state parameter exists to stop.
"""

from __future__ import annotations

import secrets
from html import escape
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from asgi_guard.context import get_context
from asgi_guard.csrf import csrf_input, csrf_meta
from asgi_guard.errors import GuardError
from asgi_guard.events.emit import emit
from asgi_guard.sessions import logout, refresh_session, set_session

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from asgi_guard.auth import TokenService
    from asgi_guard.sessions import SessionCookies

DEMO_USERS: Final[dict[str, dict[str, Any]]] = {
    "user": {"sub": "user-1", "username": "user", "roles": ["user"], "communities": ["42"]},
    "mod": {"sub": "mod-1", "username": "mod", "roles": ["user"], "communities": {"42": ["moderator"]}},
}

_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
    "form{margin:1rem 0}button{padding:.4rem 1rem}li{margin:.2rem 0}code{background:#eee;padding:0 .2rem}"
)


def _page(title: str, body: str, *, head: str = "", nonce: str = "") -> HTMLResponse:
    # The API's strict CSP allows nothing; these pages need their own inline script (by nonce), forms
    # posting to themselves and same-origin fetch. The app's header wins over the layer's default.
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    policy = (
        f"default-src 'none'; script-src {script}; style-src 'unsafe-inline'; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>{head}"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, headers={"content-security-policy": policy, "cache-control": "no-store"})


def _form(body: bytes) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(body.decode("latin-1")).items() if len(values) == 1}


def browser_routes(
    tokens: TokenService,
    cookies: SessionCookies,
    notes: list[dict[str, str]],
    login_links: str = "",
    on_logout: Callable[[str], Awaitable[object]] | None = None,
) -> list[Route]:
    """The pages and their form endpoints, sharing the demo's token service and its notice board.

    ``login_links`` (HTML) is shown on the login page: the OAuth providers' buttons. ``on_logout``
    gets the id of the user logging out (the OAuth login revokes their provider tokens there).
    """

    async def home(request: Request) -> Response:
        principal = get_context(request).principal
        if principal is not None:
            return RedirectResponse("/app", status_code=303)
        options = "".join(f"<option value='{name}'>{name}</option>" for name in DEMO_USERS)
        body = (
            "<p>Log in as a demo user. The session goes into an <code>HttpOnly; Secure; SameSite=Lax</code> "
            "<code>__Host-</code> cookie that no script can read.</p>"
            f"<form method='post' action='/login'><label>User <select name='user'>{options}</select></label> "
            "<button type='submit' id='login'>Log in</button></form>"
            f"{login_links}"
        )
        return _page("asgi_guard demo: log in", body)

    async def login(request: Request) -> Response:
        profile = DEMO_USERS.get(_form(await request.body()).get("user", ""))
        if profile is None:
            return _page("Unknown user", "<p><a href='/'>Back</a></p>")
        pair = tokens.issue_pair(
            profile["sub"], username=profile["username"], roles=profile["roles"], communities=profile["communities"]
        )
        response = RedirectResponse("/app", status_code=303)
        set_session(response, pair, cookies)
        return response

    async def app_page(request: Request) -> Response:
        principal = get_context(request).principal
        assert principal is not None  # noqa: S101 - the route requires authentication
        nonce = secrets.token_urlsafe(16)
        items = "".join(f"<li>{escape(note['by'])}: {escape(note['text'])}</li>" for note in notes) or "<li>none</li>"
        body = (
            f"<p>Signed in as <b id='who'>{escape(principal.username)}</b> ({escape(principal.method)}).</p>"
            f"<h2>Notice board</h2><ul id='notes'>{items}</ul>"
            "<form method='post' action='/app/notes' id='note-form'>"
            f"{csrf_input(request)}<input name='text' id='note-text' value='hello from a form' size='30'> "
            "<button type='submit' id='post-form'>Post (form)</button></form>"
            "<p><button type='button' id='post-fetch'>Post (fetch with X-CSRF-Token)</button> "
            "<span id='fetch-result'></span></p>"
            f"<form method='post' action='/auth/logout'>{csrf_input(request)}"
            "<button type='submit' id='logout'>Log out</button></form>"
            f"<script nonce='{nonce}'>"
            "document.getElementById('post-fetch').addEventListener('click', async () => {"
            "const token = document.querySelector('meta[name=\"csrf-token\"]').content;"
            "const r = await fetch('/app/notes', {method: 'POST', headers: {'X-CSRF-Token': token, "
            "'Content-Type': 'application/x-www-form-urlencoded'}, body: 'text=hello+from+fetch'});"
            "document.getElementById('fetch-result').textContent = r.status;});"
            "</script>"
        )
        return _page("asgi_guard demo: notice board", body, head=csrf_meta(request), nonce=nonce)

    async def post_note(request: Request) -> Response:
        principal = get_context(request).principal
        assert principal is not None  # noqa: S101 - the route requires authentication
        text = _form(await request.body()).get("text", "")[:200]
        notes.append({"by": principal.username, "text": text})
        if request.headers.get("sec-fetch-mode") == "navigate":
            return RedirectResponse("/app", status_code=303)
        return JSONResponse({"notes": len(notes)})

    async def do_logout(request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        principal = get_context(request).principal
        try:
            await logout(request, response, tokens, cookies)
        except GuardError as error:
            return _refused(error, response)
        if principal is not None and on_logout is not None:
            try:
                await on_logout(principal.id)
            except Exception as exc:  # the session is already revoked: log out anyway, never a 500
                emit(request.scope, "logout", "deny", f"on_logout:{type(exc).__name__}", user=principal.id)
        return response

    async def do_refresh(request: Request) -> Response:
        response = JSONResponse({"refreshed": True})
        try:
            await refresh_session(request, response, tokens, cookies)
        except GuardError as error:
            return _refused(error, response)
        return response

    return [
        Route("/", home),
        Route("/login", login, methods=["POST"]),
        Route("/app", app_page),
        Route("/app/notes", post_note, methods=["POST"]),
        Route("/auth/logout", do_logout, methods=["POST"]),
        Route("/auth/refresh", do_refresh, methods=["POST"]),
    ]


def _refused(error: GuardError, attempted: Response) -> Response:
    """The refusal of a logout or refresh, carrying the cookies the helper cleared on ``attempted``."""
    failed = JSONResponse({"error": error.code.value}, status_code=error.status)
    failed.raw_headers.extend(header for header in attempted.raw_headers if header[0] == b"set-cookie")
    return failed


__all__ = ("DEMO_USERS", "browser_routes")
