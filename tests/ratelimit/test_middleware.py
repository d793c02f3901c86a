"""RateLimitMiddleware on raw ASGI: decisions, headers on every response, 429s, commands, tiers."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from asgi_guard.context import GuardContext
from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import Principal
from asgi_guard.ratelimit import (
    Command,
    Decision,
    Limit,
    MemoryRateLimitBackend,
    Rate,
    RateLimitConfig,
    RateLimitMiddleware,
    tiers,
)
from asgi_guard.testing import FakeClock, call, make_scope
from asgi_guard.types import Receive, Scope, Send
from tests.ratelimit.helpers import principal

pytestmark = pytest.mark.anyio

START = 1_700_000_000.0


async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers 200, echoing the command it was sent (to prove the body still reaches the app)."""
    body = b""
    if scope["type"] == "http":
        message = await receive()
        body = message.get("body", b"")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body or b"ok"})


def status_app(status: int) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": ()})
        await send({"type": "http.response.body", "body": b""})

    return app


def middleware(
    *limits: Limit, app: Any = ok_app, clock: FakeClock | None = None, **options: Any
) -> RateLimitMiddleware:
    clock = clock or FakeClock(START)
    backend = MemoryRateLimitBackend(clock=clock)
    return RateLimitMiddleware(app, RateLimitConfig(limits=limits, backend=backend, clock=clock, **options))


def as_user(scope: Scope, who: Principal | None, community: str | None = None) -> Scope:
    ctx = GuardContext.from_scope(scope)
    ctx.principal = who
    ctx.community_id = community
    return scope


class TestDecisions:
    """Admission, refusal and what the client is told."""

    async def test_headers_and_429(self) -> None:
        """Allowed responses carry X-RateLimit-*; past the burst a 429 with Retry-After and the error body."""
        app = middleware(Limit(name="ip", rate="2/minute"))
        first = await call(app, make_scope())
        assert first.status == 200
        assert first.headers["x-ratelimit-limit"] == "2"
        assert first.headers["x-ratelimit-remaining"] == "1"
        assert first.headers["x-ratelimit-reset"] == str(int(START) + 30)
        assert "retry-after" not in first.headers
        await call(app, make_scope())
        refused = await call(app, make_scope())
        assert refused.status == 429
        assert refused.json() == {"error": "rate_limit_exceeded", "detail": "Too many requests."}
        assert refused.headers["retry-after"] == "30"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.headers["x-ratelimit-reset"] == str(int(START) + 60)

    async def test_headers_on_inner_errors(self) -> None:
        """Responses an inner layer produced (401, 403, 500) still carry the rate-limit headers."""
        for status in (401, 403, 500):
            app = middleware(Limit(name="ip", rate="5/minute"), app=status_app(status))
            recorder = await call(app, make_scope())
            assert recorder.status == status
            assert recorder.headers["x-ratelimit-remaining"] == "4"

    async def test_app_headers_kept_and_body_replayed(self) -> None:
        """The app's own headers stay and the limiter adds its own once."""
        recorder = await call(middleware(Limit(name="ip", rate="5/minute")), make_scope(method="POST"), b"hello")
        assert recorder.body == b"hello"
        assert recorder.header_list("content-type") == ["text/plain"]
        assert recorder.header_list("x-ratelimit-limit") == ["5"]

    async def test_refill_with_clock(self) -> None:
        """After the retry-after has passed, the client is admitted again."""
        clock = FakeClock(START)
        app = middleware(Limit(name="ip", rate="1/second"), clock=clock)
        assert (await call(app, make_scope())).status == 200
        assert (await call(app, make_scope())).status == 429
        clock.advance(1)
        assert (await call(app, make_scope())).status == 200

    async def test_most_restrictive_limit_reported(self) -> None:
        """Headers describe the limit with the fewest requests left."""
        app = middleware(Limit(name="wide", rate="100/minute"), Limit(name="narrow", rate="3/minute", burst=3))
        recorder = await call(app, make_scope())
        assert recorder.headers["x-ratelimit-limit"] == "3"
        assert recorder.headers["x-ratelimit-remaining"] == "2"

    async def test_ietf_headers(self) -> None:
        """With the option, the IETF draft RateLimit and RateLimit-Policy fields are added."""
        recorder = await call(middleware(Limit(name="api", rate="10/minute"), ietf_headers=True), make_scope())
        assert recorder.headers["ratelimit-policy"] == '"api";q=10;w=60'
        assert recorder.headers["ratelimit"] == '"api";r=9;t=6'

    async def test_problem_format(self) -> None:
        """Refusals follow the configured error format."""
        app = middleware(Limit(name="ip", rate="1/minute"), error_format="problem")
        await call(app, make_scope())
        refused = await call(app, make_scope())
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "rate_limit_exceeded"

    async def test_decision_in_context_and_event(self) -> None:
        """The decision is stored in the context, and a refusal is logged as a rate_limit_hit event."""
        app = middleware(Limit(name="ip", rate="1/minute"))
        scope = make_scope()
        await call(app, scope)
        decision = GuardContext.from_scope(scope).rate_limit
        assert isinstance(decision, Decision)
        assert decision.allowed
        assert decision.source == "memory"
        scope = make_scope()
        await call(app, scope)
        event = GuardContext.from_scope(scope).events[-1]
        assert (event.type, event.result, event.extra["limit"]) == ("rate_limit_hit", "deny", "ip")

    async def test_shadow_mode(self) -> None:
        """A shadow limit never refuses: it logs a shadow event and leaves the headers alone."""
        app = middleware(Limit(name="trial", rate="1/minute", shadow=True), Limit(name="ip", rate="10/minute"))
        await call(app, make_scope())
        scope = make_scope()
        recorder = await call(app, scope)
        assert recorder.status == 200
        assert recorder.headers["x-ratelimit-limit"] == "10"
        event = GuardContext.from_scope(scope).events[-1]
        assert (event.type, event.result, event.extra["limit"]) == ("rate_limit_hit", "shadow", "trial")

    async def test_lifespan_passes_through(self) -> None:
        """Lifespan scopes pass straight through, unlimited."""
        seen: list[str] = []

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["type"])

        limited = middleware(Limit(name="ip", rate="1/minute"), app=app)
        for _ in range(3):
            await limited({"type": "lifespan"}, ok_receive, ok_send)
        assert seen == ["lifespan"] * 3

    async def test_websocket_handshakes_are_limited(self) -> None:
        """A websocket handshake counts like a GET; past the limit it is closed with 1008 before accept."""
        seen: list[str] = []

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["type"])
            await send({"type": "websocket.accept"})

        limited = middleware(Limit(name="ip", rate="1/minute"), app=app)
        first = await call(limited, make_scope(type="websocket"))
        second = await call(limited, make_scope(type="websocket"))
        assert seen == ["websocket"]
        assert first.messages == [{"type": "websocket.accept"}]
        assert second.messages[0]["type"] == "websocket.close"
        assert second.messages[0]["code"] == 1008

    async def test_websocket_skips_body_command_limits(self) -> None:
        """Limits that read a command from the body do not apply to a handshake; the others still do."""
        seen: list[str] = []

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["type"])
            await send({"type": "websocket.accept"})

        limited = middleware(
            Limit(name="command", rate="1/minute", key="ip", command=Command(body_field="command")),
            Limit(name="ip", rate="2/minute"),
            app=app,
        )
        outcomes = [await call(limited, make_scope(type="websocket")) for _ in range(3)]
        assert seen == ["websocket", "websocket"]
        assert outcomes[2].messages[0] == {"type": "websocket.close", "code": 1008, "reason": "rate_limit_exceeded"}


async def ok_receive() -> dict[str, Any]:
    return {"type": "lifespan.startup"}


async def ok_send(message: dict[str, Any]) -> None:
    return None


class TestKeys:
    """Who shares a bucket."""

    async def test_ip_buckets_are_per_client(self) -> None:
        """Different client addresses have separate buckets."""
        app = middleware(Limit(name="ip", rate="1/minute"))
        assert (await call(app, make_scope(client=("10.0.0.1", 1)))).status == 200
        assert (await call(app, make_scope(client=("10.0.0.1", 2)))).status == 429
        assert (await call(app, make_scope(client=("10.0.0.2", 1)))).status == 200

    async def test_user_key_falls_back_to_ip(self) -> None:
        """Per-user limits follow the principal; anonymous requests are limited by address."""
        app = middleware(Limit(name="user", rate="1/minute", key="user"))
        assert (await call(app, as_user(make_scope(), principal("alice")))).status == 200
        assert (await call(app, as_user(make_scope(client=("10.9.9.9", 1)), principal("alice")))).status == 429
        assert (await call(app, as_user(make_scope(), principal("bob")))).status == 200
        assert (await call(app, make_scope())).status == 200
        assert (await call(app, make_scope())).status == 429

    async def test_api_key_and_community_keys_apply_only_when_present(self) -> None:
        """API-key limits apply to API-key callers; community limits to requests scoped to one."""
        app = middleware(
            Limit(name="key", rate="1/minute", key="api_key"), Limit(name="community", rate="2/minute", key="community")
        )
        jwt_user = principal("alice")
        assert (await call(app, as_user(make_scope(), jwt_user))).headers == {"content-type": "text/plain"}
        key_user = principal("alice", method="api_key")
        assert (await call(app, as_user(make_scope(), key_user, "c1"))).status == 200
        assert (await call(app, as_user(make_scope(), key_user, "c2"))).status == 429
        other = principal("bob", method="api_key")
        assert (await call(app, as_user(make_scope(), other, "c1"))).status == 200
        assert (await call(app, as_user(make_scope(), principal("carol", method="api_key"), "c1"))).status == 429

    async def test_global_and_callable_keys(self) -> None:
        """A global key is shared by everybody; a callable key decides, None exempting the request."""

        def by_tenant(scope: Scope) -> str | None:
            for name, value in scope["headers"]:
                if name == b"x-tenant":
                    return value.decode() + "{}"  # braces cannot break the hash tag
            return None

        app = middleware(
            Limit(name="all", rate="3/minute", key="global"), Limit(name="t", rate="1/minute", key=by_tenant)
        )
        assert (await call(app, make_scope(headers={"x-tenant": "a"}, client=("1.1.1.1", 1)))).status == 200
        assert (await call(app, make_scope(headers={"x-tenant": "a"}, client=("2.2.2.2", 1)))).status == 429
        assert (await call(app, make_scope(client=("3.3.3.3", 1)))).status == 200  # refusal took nothing
        assert (await call(app, make_scope(client=("4.4.4.4", 1)))).status == 200
        assert (await call(app, make_scope(client=("5.5.5.5", 1)))).status == 429

    async def test_tiers_follow_roles_and_plans(self) -> None:
        """Standard, premium and admin callers get 100, 500 and 1000 per minute; plans count as tiers."""
        app = middleware(tiers())
        cases = [
            (principal("s"), "100"),
            (principal("p", roles=frozenset({"premium"})), "500"),
            (principal("a", roles=frozenset({"premium", "admin"})), "1000"),
            (principal("c", claims={"plan": "premium"}), "500"),
        ]
        for who, limit in cases:
            assert (await call(app, as_user(make_scope(), who))).headers["x-ratelimit-limit"] == limit
        assert (await call(app, make_scope())).headers["x-ratelimit-limit"] == "100"

    async def test_methods_and_paths_select_requests(self) -> None:
        """A limit with methods or paths applies only to matching requests."""
        app = middleware(
            Limit(name="posts", rate="1/minute", methods=("POST",)),
            Limit(name="api", rate="1/minute", paths=("/api/{rest:path}",)),
        )
        assert (await call(app, make_scope("POST", "/x"))).status == 200
        assert (await call(app, make_scope("POST", "/x"))).status == 429
        assert (await call(app, make_scope("GET", "/x"))).status == 200
        assert (await call(app, make_scope("GET", "/api/a"))).status == 200
        assert (await call(app, make_scope("GET", "/api/b"))).status == 429


class TestCommands:
    """Per-command limits, from a route parameter or a JSON body field."""

    async def test_command_from_route_parameter(self) -> None:
        """Each command has its own bucket per caller."""
        limit = Limit(
            name="cmd", rate="1/minute", key="user", paths=("/commands/{command}",), command=Command(param="command")
        )
        app = middleware(limit)
        alice = principal("alice")
        assert (await call(app, as_user(make_scope("POST", "/commands/ban"), alice))).status == 200
        assert (await call(app, as_user(make_scope("POST", "/commands/ban"), alice))).status == 429
        assert (await call(app, as_user(make_scope("POST", "/commands/kick"), alice))).status == 200
        assert (await call(app, as_user(make_scope("POST", "/other"), alice))).status == 200

    async def test_command_from_body_field(self) -> None:
        """The body is read once, only the field decoded, and replayed to the app intact."""
        app = middleware(Limit(name="cmd", rate="1/minute", key="user", command=Command(body_field="command")))
        body = msgspec.json.encode({"command": "ban", "target": "x" * 50})
        scope = as_user(make_scope("POST", "/run"), principal("alice"))
        first = await call(app, scope, [body[:10], body[10:]])
        assert first.status == 200
        assert first.body == body
        assert GuardContext.from_scope(scope).body == body
        assert (await call(app, as_user(make_scope("POST", "/run"), principal("alice")), body)).status == 429
        no_command = await call(app, as_user(make_scope("POST", "/run"), principal("alice")), b'{"other": 1}')
        assert no_command.status == 200
        assert "x-ratelimit-limit" not in no_command.headers

    async def test_two_body_limits_read_once(self) -> None:
        """Two body-field limits share one read of the body; an empty body names no command."""
        app = middleware(
            Limit(name="cmd", rate="5/minute", command=Command(body_field="command")),
            Limit(name="target", rate="1/minute", command=Command(body_field="target")),
        )
        body = b'{"command": "ban", "target": "bob"}'
        assert (await call(app, make_scope("POST", "/run"), body)).headers["x-ratelimit-limit"] == "1"
        assert (await call(app, make_scope("POST", "/run"), body)).status == 429
        assert "x-ratelimit-limit" not in (await call(app, make_scope("POST", "/run"), b"")).headers

    async def test_unreadable_command_body_refused(self) -> None:
        """A body that is not JSON, or a non-string command, is a 400, and an oversized body a 413."""
        app = middleware(Limit(name="cmd", rate="5/minute", command=Command(body_field="command")), max_body_bytes=64)
        for body in (b"not json", b'{"command": 5}', b"[1]"):
            refused = await call(app, make_scope("POST", "/run"), body)
            assert (refused.status, refused.json()["error"]) == (400, "malformed_request")
        assert (await call(app, make_scope("POST", "/run"), b"{}" + b" " * 100)).status == 413

    @pytest.mark.parametrize(
        "body", [b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}", b'{"command": "\xff"}'], ids=["deep", "bad-utf8"]
    )
    async def test_hostile_command_body_is_a_400_not_a_crash(self, body: bytes) -> None:
        """Nesting past msgspec's recursion limit or invalid UTF-8 in the command body is a 400, not an exception."""
        app = middleware(Limit(name="cmd", rate="5/minute", command=Command(body_field="command")))
        refused = await call(app, make_scope("POST", "/run"), body)
        assert (refused.status, refused.json()["error"]) == (400, "malformed_request")

    async def test_client_gone_mid_body(self) -> None:
        """If the client disconnects while the command body is read, nothing is answered."""
        app = middleware(Limit(name="cmd", rate="5/minute", command=Command(body_field="command")))
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            sent.append(message)

        await app(make_scope("POST", "/run"), receive, send)
        assert sent == []

    async def test_body_limits_that_do_not_apply_leave_the_body_unread(self) -> None:
        """A body-field limit off its route, or without its kind of caller, neither reads the body nor applies."""
        app = middleware(
            Limit(name="ip", rate="5/minute", methods=("POST",)),
            Limit(name="cmd", rate="1/minute", paths=("/run",), command=Command(body_field="command")),
            Limit(name="keycmd", rate="1/minute", key="api_key", command=Command(body_field="command")),
        )
        body = b'{"command": "ban"}'
        elsewhere = make_scope("POST", "/other")
        assert (await call(app, elsewhere, body)).headers["x-ratelimit-limit"] == "5"
        assert GuardContext.from_scope(elsewhere).body is None
        assert (await call(app, make_scope("POST", "/run"), body)).headers["x-ratelimit-limit"] == "1"
        assert (await call(app, make_scope("POST", "/run"), body)).status == 429
        only_command = await call(app, make_scope("PUT", "/run"), b'{"command": "kick"}')
        assert (only_command.status, only_command.headers["x-ratelimit-remaining"]) == (200, "0")


class TestMemoisedChecks:
    """Checks are remembered per caller, boundedly, without changing any decision."""

    async def test_memo_bound_keeps_buckets_apart(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With the memo cleared over and over, every caller still has its own bucket."""
        from asgi_guard.ratelimit import compiled

        monkeypatch.setattr(compiled, "MEMO_LIMIT", 2)
        app = middleware(Limit(name="ip", rate="1/minute"))
        clients = [f"10.0.0.{index}" for index in range(5)]
        for client in clients:
            assert (await call(app, make_scope(client=(client, 1)))).status == 200
        for client in clients:
            assert (await call(app, make_scope(client=(client, 1)))).status == 429

    async def test_long_commands_are_limited_but_not_remembered(self) -> None:
        """A long command still gets its own bucket; its check is rebuilt per request, never pinned."""
        from asgi_guard.ratelimit.compiled import MEMO_MAX_VALUE

        app = middleware(Limit(name="cmd", rate="1/minute", command=Command(body_field="command")))
        body = msgspec.json.encode({"command": "x" * MEMO_MAX_VALUE})
        assert (await call(app, make_scope("POST", "/run"), body)).status == 200
        assert (await call(app, make_scope("POST", "/run"), body)).status == 429
        assert len(app._limits[0]._memo) == 0

    async def test_long_client_addresses_are_limited_but_not_remembered(self) -> None:
        """A long client value (a socket path) is limited (as the "invalid" placeholder, one shared bucket)
        and its text is never pinned by the per-IP memo."""
        from asgi_guard.ratelimit.compiled import MEMO_MAX_VALUE

        app = middleware(Limit(name="ip", rate="1/minute"))
        client = "/run/" + "s" * MEMO_MAX_VALUE
        assert (await call(app, make_scope(client=(client, 1)))).status == 200
        assert (await call(app, make_scope(client=(client, 1)))).status == 429
        assert (await call(app, make_scope(client=("10.0.0.9", 1)))).status == 200
        assert app._limits[0]._by_ip is not None
        assert list(app._limits[0]._by_ip) == ["invalid", "10.0.0.9"]

    async def test_memory_subclass_goes_through_the_failover(self) -> None:
        """Only the plain memory backend is called directly; a subclass's own ``check`` is honoured."""

        class Counting(MemoryRateLimitBackend):
            calls = 0

            async def check(self, checks: Any) -> Any:
                type(self).calls += 1
                return await super().check(checks)

        clock = FakeClock(START)
        backend = Counting(clock=clock)
        app = RateLimitMiddleware(
            ok_app, RateLimitConfig(limits=(Limit(name="ip", rate="1/minute"),), backend=backend, clock=clock)
        )
        assert (await call(app, make_scope())).status == 200
        assert (await call(app, make_scope())).status == 429
        assert Counting.calls == 2


class TestExemptions:
    """Exempt paths, principals and addresses are never limited."""

    async def test_exemptions(self) -> None:
        """Each exemption bypasses the limit, and nothing else does."""
        app = middleware(
            Limit(name="ip", rate="1/minute", key="user"),
            exempt_paths=("/health",),
            exempt_principals=frozenset({"ops"}),
            exempt_ips=("10.0.0.0/8", "::1"),
        )
        for _ in range(3):
            assert (await call(app, make_scope(path="/health", client=("8.8.8.8", 1)))).status == 200
            assert (await call(app, as_user(make_scope(client=("8.8.8.8", 1)), principal("ops")))).status == 200
            assert (await call(app, make_scope(client=("10.1.2.3", 1)))).status == 200
            assert (await call(app, make_scope(client=("::1", 1)))).status == 200
        paths_only = middleware(Limit(name="ip", rate="1/minute"), exempt_paths=("/health",))
        assert (await call(paths_only, make_scope(path="/x"))).status == 200
        assert (await call(paths_only, make_scope(path="/x"))).status == 429
        unix = make_scope(client=None)
        assert (await call(app, unix)).status == 200
        assert (await call(app, make_scope(client=None))).status == 429


class TestConfiguration:
    """Mistakes are refused at construction with msgspec-style messages."""

    @pytest.mark.parametrize(
        ("make", "fragment"),
        [
            (lambda: Limit(name="a b", rate="1/minute"), "Limit.name"),
            (lambda: Limit(name="a", rate="often"), "rate"),
            (lambda: Limit(name="a", rate="0/minute"), "a count of 1 to"),
            (lambda: Limit(name="a", rate="1/0s"), "a period of 1 second"),
            (lambda: Rate(0, 60), "Rate.count"),
            (lambda: Rate(1, 0), "Rate.period"),
            (lambda: Limit(name="a", rate=5), "rate"),  # type: ignore[arg-type]
            (lambda: Limit(name="a", rate="1/minute", burst=0), "burst"),
            (lambda: Limit(name="a", rate="1/minute", cost=-1), "cost"),
            (lambda: Limit(name="a", rate="1/minute", cost=2), "cost"),
            (lambda: Limit(name="a", rate="1/minute", key="nobody"), "key"),  # type: ignore[arg-type]
            (lambda: Limit(name="a", rate="1/minute", methods=("get",)), "methods"),
            (lambda: Limit(name="a", rate="1/minute", fail_mode="maybe"), "fail_mode"),  # type: ignore[arg-type]
            (lambda: Limit(name="a", rate="1/minute", tiers=[("x", "1/s")]), "tiers"),  # type: ignore[arg-type]
            (lambda: Limit(name="a", rate="1/minute", tiers={"x": "nope"}), "tiers"),
            (lambda: Limit(name="a", rate="1/minute", command=Command(param="c")), "paths"),
            (lambda: Command(), "Command"),
            (lambda: Command(param=""), "Command.param"),
            (lambda: RateLimitConfig(limits=()), "limits"),
            (lambda: RateLimitConfig(limits=("x",)), "limits[0]"),  # type: ignore[arg-type]
            (lambda: RateLimitConfig(limits=(Limit(name="a", rate="1/s"), Limit(name="a", rate="1/s"))), "limits[1]"),
            (lambda: RateLimitConfig(limits=(tiers(),), stage="pre_auth"), "limits[0]"),
            (lambda: RateLimitConfig(limits=(Limit(name="a", rate="1/s"),), stage="later"), "stage"),  # type: ignore[arg-type]
            (lambda: RateLimitConfig(limits=(Limit(name="a", rate="1/s"),), fail_mode="x"), "fail_mode"),  # type: ignore[arg-type]
            (lambda: RateLimitConfig(limits=(Limit(name="a", rate="1/s"),), budget=0), "budget"),
            (lambda: RateLimitConfig(limits=(Limit(name="a", rate="1/s"),), breaker_threshold=0), "breaker_threshold"),
            (lambda: RateLimitConfig(limits=(Limit(name="a", rate="1/s"),), prefix="{x}"), "prefix"),
            (lambda: RateLimitConfig(limits=(Limit(name="a", rate="1/s"),), error_format="xml"), "error_format"),  # type: ignore[arg-type]
            (lambda: RateLimitConfig(limits=(Limit(name="a", rate="1/s"),), max_body_bytes=0), "max_body_bytes"),
            (lambda: RateLimitConfig(limits=(Limit(name="a", rate="1/s"),), backend=object()), "backend"),
            (lambda: RateLimitConfig(limits=(Limit(name="a", rate="1/s"),), exempt_ips=("nope",)), "exempt_ips[0]"),
            (lambda: MemoryRateLimitBackend(max_keys=0), "max_keys"),
        ],
    )
    def test_bad_configuration(self, make: Any, fragment: str) -> None:
        """Each invalid option raises ConfigurationError naming where it is."""
        with pytest.raises(ConfigurationError, match="Expected") as raised:
            make()
        assert fragment in str(raised.value)

    @pytest.mark.parametrize(
        ("text", "count", "period"),
        [
            ("100/minute", 100, 60),
            ("10 per 5 seconds", 10, 5),
            ("5/30s", 5, 30),
            ("1000/hour", 1000, 3600),
            ("2/day", 2, 86400),
        ],
    )
    def test_rate_strings(self, text: str, count: int, period: int) -> None:
        """Rate strings parse into a count and a period, and intervals round up to whole microseconds."""
        rate = Limit(name="a", rate=text).parsed_rate
        assert Limit(name="b", rate=rate).parsed_rate is rate
        assert (rate.count, rate.period) == (count, period)
        assert rate.interval_us * count >= period * 1_000_000
        assert str(rate) == f"{count}/{period}s"


@pytest.mark.parametrize("paths", [(), ("/search",)])
async def test_head_counts_against_a_get_limit(paths: tuple[str, ...]) -> None:
    """HEAD runs the GET handler, so a GET-only limit also counts (and refuses) HEAD requests."""
    app = middleware(Limit(name="search", rate="1/minute", methods=("GET",), paths=paths))
    assert (await call(app, make_scope("GET", "/search"))).status == 200
    assert (await call(app, make_scope("HEAD", "/search"))).status == 429


async def test_exemption_holds_only_for_the_path_as_written() -> None:
    """An exempt `/health` does not exempt `//health` or `/health/` (Starlette may route those elsewhere)."""
    app = middleware(Limit(name="ip", rate="1/minute"), exempt_paths=("/health",))
    assert (await call(app, make_scope("GET", "/health"))).status == 200
    assert (await call(app, make_scope("GET", "/health"))).status == 200
    assert (await call(app, make_scope("GET", "//health"))).status == 200
    assert (await call(app, make_scope("GET", "/health/"))).status == 429
