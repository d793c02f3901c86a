"""Putting CSRF tokens into pages and ``fetch`` calls.

The middleware leaves its signer on the request's context (``GuardContext.csrf``); these helpers issue a token for
the request's session from it. A page renders ``csrf_input(request)`` inside each form, or
``csrf_meta(request)`` in its head and sends the value as ``X-CSRF-Token`` from script::

    fetch(url, {method: "POST", headers: {"X-CSRF-Token":
        document.querySelector('meta[name="csrf-token"]').content}})
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from asgi_guard.context import CONTEXT_KEY, GuardContext
from asgi_guard.csrf.tokens import session_binding
from asgi_guard.errors import MissingGuardContext

if TYPE_CHECKING:
    from asgi_guard.csrf.tokens import CSRFTokens


class CSRFState:
    """The signer and the names tokens travel under."""

    __slots__ = ("form_field", "header", "tokens")

    def __init__(self, tokens: CSRFTokens, header: str, form_field: str) -> None:
        self.tokens = tokens
        self.header = header
        self.form_field = form_field


def _state_and_scope(scope_or_request: Any) -> tuple[CSRFState, Mapping[str, Any]]:
    scope = scope_or_request if isinstance(scope_or_request, Mapping) else getattr(scope_or_request, "scope", None)
    ctx = scope.get(CONTEXT_KEY) if isinstance(scope, Mapping) else None
    state = ctx.csrf if isinstance(ctx, GuardContext) else None
    if not isinstance(state, CSRFState) or not isinstance(scope, Mapping):
        raise MissingGuardContext(
            "No CSRF signer on this request: install asgi_guard.csrf.CSRFMiddleware (or CSRFConfig in guard(...))"
        )
    return state, scope


def csrf_token(scope_or_request: Any) -> str:
    """A fresh token for the request's session, or ``""`` when the request has no session."""
    state, scope = _state_and_scope(scope_or_request)
    ctx = scope.get(CONTEXT_KEY)
    binding = session_binding(ctx.principal if ctx is not None else None)
    return "" if binding is None else state.tokens.issue(binding)


def csrf_input(scope_or_request: Any) -> str:
    """A hidden ``<input>`` carrying a token, to put inside a ``<form>`` (``""`` without a session)."""
    state, _ = _state_and_scope(scope_or_request)
    token = csrf_token(scope_or_request)
    if not token:
        return ""
    return f'<input type="hidden" name="{escape(state.form_field)}" value="{escape(token)}">'


def csrf_meta(scope_or_request: Any) -> str:
    """A ``<meta name="csrf-token">`` for script to read (``""`` without a session)."""
    token = csrf_token(scope_or_request)
    return f'<meta name="csrf-token" content="{escape(token)}">' if token else ""


def csrf_headers(scope_or_request: Any) -> dict[str, str]:
    """``{header: token}`` for server-built calls (empty without a session)."""
    state, _ = _state_and_scope(scope_or_request)
    token = csrf_token(scope_or_request)
    return {state.header: token} if token else {}


__all__ = ("CSRFState", "csrf_headers", "csrf_input", "csrf_meta", "csrf_token")
