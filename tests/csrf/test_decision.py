"""The CSRF decision table, against the full stack: method x credential x Fetch Metadata x Origin x
Referer x token x allow-list, including null origins, other ports and schemes, foreign-session tokens
and duplicated headers. A reference model (the issue's rules, written independently) states the answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard.csrf import CSRFConfig, CSRFTokens, session_binding
from asgi_guard.principal import Principal
from asgi_guard.testing import call, make_scope
from tests.sessions.stack import CSRF_SECRET, build

pytestmark = pytest.mark.anyio

OWN = "http://app.test:8000"
TRUSTED = "https://partner.example"
ORIGINS = {
    "own": OWN,
    "own_default_port_spelling": "HTTP://APP.TEST:8000",
    "other_port": "http://app.test:9000",
    "other_scheme": "https://app.test:8000",
    "other_host": "http://evil.test:8000",
    "trusted": TRUSTED,
    "trusted_explicit_port": "https://partner.example:443",
    "null": "null",
    "with_path": "http://app.test:8000/x",
    "junk": "not an origin",
}
REFERERS = {
    "own": OWN + "/page?q=1",
    "other_port": "http://app.test:9000/page",
    "trusted": TRUSTED + "/embed",
    "junk": "::::",
}
SITES = ["same-origin", "same-site", "cross-site", "none", "SAME-ORIGIN", "bogus"]
METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
CREDENTIALS = ["cookie", "bearer", "api_key", "anonymous"]
TOKENS = ["valid", "other_session", "garbage"]
DUPLICABLE = ["sec-fetch-site", "origin", "referer", "x-csrf-token"]


@dataclass(frozen=True)
class Case:
    method: str
    credential: str
    site: str | None
    origin: str | None
    referer: str | None
    token: str | None
    token_in_form: bool
    trusted: bool
    require_token: bool
    duplicate: str | None


def expected(case: Case) -> int:
    """The issue's rules, stated directly."""
    if case.method in ("GET", "HEAD", "OPTIONS") or case.credential != "cookie":
        return 200
    present = {
        "sec-fetch-site": case.site,
        "origin": case.origin,
        "referer": case.referer,
        "x-csrf-token": case.token if not case.token_in_form else None,
    }
    if case.duplicate is not None and present[case.duplicate] is not None:
        return 403
    origin = ORIGINS.get(case.origin or "")
    trusted = {TRUSTED} if case.trusted else set()
    own_like = {"own", "own_default_port_spelling"}
    if case.origin in ("trusted", "trusted_explicit_port") and case.trusted:
        passed: bool | None = True
    elif case.site is not None:
        passed = case.site == "same-origin"
    elif origin is not None:
        passed = case.origin in own_like
    elif case.referer is not None:
        passed = case.referer == "own" or (case.referer == "trusted" and bool(trusted))
    else:
        passed = None  # nothing to tell: the token decides
    if passed is False:
        return 403
    if passed is None or case.require_token:
        return 200 if case.token == "valid" else 403
    return 200


cases = st.builds(
    Case,
    method=st.sampled_from(METHODS),
    credential=st.sampled_from(CREDENTIALS),
    site=st.none() | st.sampled_from(SITES),
    origin=st.none() | st.sampled_from(sorted(ORIGINS)),
    referer=st.none() | st.sampled_from(sorted(REFERERS)),
    token=st.none() | st.sampled_from(TOKENS),
    token_in_form=st.booleans(),
    trusted=st.booleans(),
    require_token=st.booleans(),
    duplicate=st.none() | st.sampled_from(DUPLICABLE),
)

_STACKS: dict[tuple[bool, bool], Any] = {}


def _stack(trusted: bool, require_token: bool) -> Any:
    key = (trusted, require_token)
    if key not in _STACKS:
        config = CSRFConfig(
            secrets=(CSRF_SECRET,),
            trusted_origins=(TRUSTED,) if trusted else (),
            require_token=require_token,
        )
        _STACKS[key] = build(csrf=config)
    return _STACKS[key]


def request_for(case: Case) -> tuple[dict[str, Any], bytes]:
    """The scope and body a client would send for ``case``."""
    stack = _stack(case.trusted, case.require_token)
    headers: list[tuple[str, str]] = [("host", "app.test:8000")]
    pair = stack.tokens.issue_pair("user-1")
    if case.credential == "cookie":
        headers.append(("cookie", f"__Host-session={pair.access_token}"))
    elif case.credential == "bearer":
        headers.append(("authorization", f"Bearer {pair.access_token}"))
    elif case.credential == "api_key":
        headers.append(("x-api-key", stack.api_key))
    token = None
    if case.token is not None:
        signer = CSRFTokens((CSRF_SECRET,))
        family = jwt.decode(pair.access_token, options={"verify_signature": False})["fam"]
        principal = Principal("user-1", claims={"fam": family})
        if case.token == "valid":
            token = signer.issue(session_binding(principal) or "")
        elif case.token == "other_session":
            other = Principal("user-1", token_id="j", claims={"fam": "another-login"})
            token = signer.issue(session_binding(other) or "")
        else:
            token = "v1.garbage"
    values = {
        "sec-fetch-site": case.site,
        "origin": ORIGINS[case.origin] if case.origin else None,
        "referer": REFERERS[case.referer] if case.referer else None,
        "x-csrf-token": token if not case.token_in_form else None,
    }
    for name, value in values.items():
        if value is not None:
            headers.append((name, value))
            if case.duplicate == name:
                headers.append((name, value))
    body = b""
    if token is not None and case.token_in_form:
        headers.append(("content-type", "application/x-www-form-urlencoded"))
        body = f"action=ban&csrf_token={token}".encode()
    path = "/public" if case.credential == "anonymous" else "/action"
    return make_scope(case.method, path, headers=headers), body


async def check(case: Case) -> None:
    stack = _stack(case.trusted, case.require_token)
    before = len(stack.inner.calls)
    scope, body = request_for(case)
    response = await call(stack.app, scope, body)
    want = expected(case)
    assert response.status == want, case
    if want == 403:
        assert response.json()["error"] == "csrf_failed"
        assert len(stack.inner.calls) == before  # the action did not happen
        event = scope["asgi_guard"].events[-1]
        assert event.type == "csrf_failure"
        assert event.extra["check"] in ("fetch_metadata", "origin", "referer", "token", "duplicate_header")
    else:
        assert stack.inner.calls[-1]["body"] == body  # a form body read for its token is replayed intact


@settings(max_examples=600, deadline=None)
@given(cases)
async def test_decision_table(case: Case) -> None:
    """Every combination answers as the rules say; a refusal never reaches the app and names its check."""
    await check(case)


def _case(**overrides: Any) -> Case:
    base: dict[str, Any] = {
        "method": "POST",
        "credential": "cookie",
        "site": None,
        "origin": None,
        "referer": None,
        "token": None,
        "token_in_form": False,
        "trusted": False,
        "require_token": False,
        "duplicate": None,
    }
    base.update(overrides)
    return Case(**base)


@pytest.mark.parametrize(
    ("overrides", "status", "reason"),
    [
        ({"site": "same-origin"}, 200, None),
        ({"site": "cross-site", "origin": "other_host"}, 403, "fetch_metadata:sec_fetch_site=cross-site"),
        ({"site": "same-site", "origin": "other_port"}, 403, "fetch_metadata:sec_fetch_site=same-site"),
        ({"site": "none"}, 403, "fetch_metadata:sec_fetch_site=none"),
        ({"site": "cross-site", "origin": "trusted", "trusted": True}, 200, None),
        ({"origin": "own"}, 200, None),
        ({"origin": "null"}, 403, "origin:null"),
        ({"origin": "other_port"}, 403, "origin:mismatch"),
        ({"origin": "other_scheme"}, 403, "origin:mismatch"),
        ({"origin": "with_path"}, 403, "origin:malformed"),
        ({"referer": "own"}, 200, None),
        ({"referer": "other_port"}, 403, "referer:mismatch"),
        ({"referer": "junk"}, 403, "referer:malformed"),
        ({}, 403, "token:missing"),
        ({"token": "valid"}, 200, None),
        ({"token": "valid", "token_in_form": True}, 200, None),
        ({"token": "other_session"}, 403, "token:invalid"),
        ({"token": "garbage", "token_in_form": True}, 403, "token:invalid"),
        ({"site": "same-origin", "require_token": True}, 403, "token:missing"),
        ({"site": "same-origin", "duplicate": "sec-fetch-site"}, 403, "duplicate_header:sec-fetch-site"),
        ({"origin": "own", "duplicate": "origin"}, 403, "duplicate_header:origin"),
        ({"credential": "bearer", "site": "cross-site"}, 200, None),
        ({"credential": "api_key", "origin": "null"}, 200, None),
        ({"method": "GET", "site": "cross-site"}, 200, None),
    ],
)
async def test_named_rows(overrides: dict[str, Any], status: int, reason: str | None) -> None:
    """The rows people ask about, with the exact reason logged."""
    case = _case(**overrides)
    assert expected(case) == status
    stack = _stack(case.trusted, case.require_token)
    scope, body = request_for(case)
    response = await call(stack.app, scope, body)
    assert response.status == status
    if reason is not None:
        assert scope["asgi_guard"].events[-1].reason == reason
