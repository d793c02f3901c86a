"""``RateLimitMiddleware``: every limit of a request checked in one backend call, headers on every response."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from asgi_guard._body import ClientDisconnected, read_body
from asgi_guard._responses import send_denial
from asgi_guard._routing import ANY_METHOD, RouteTable
from asgi_guard.context import GuardContext, client_host
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.events.emit import emit
from asgi_guard.ratelimit.compiled import CompiledLimit
from asgi_guard.ratelimit.decision import Decision, headers_for, status_of
from asgi_guard.ratelimit.failover import configured_failover
from asgi_guard.ratelimit.memory import MemoryRateLimitBackend

if TYPE_CHECKING:
    from asgi_guard.principal import Principal
    from asgi_guard.ratelimit.config import RateLimitConfig
    from asgi_guard.ratelimit.decision import LimitStatus, Source
    from asgi_guard.ratelimit.gcra import Check, Outcome
    from asgi_guard.types import ASGIApp, Receive, Scope, Send


class RateLimitMiddleware:
    """Checks and consumes the request's limits all-or-nothing, then answers 429 or calls the app.

    ``X-RateLimit-Limit/Remaining/Reset`` (of the most restrictive limit) go on every response that
    passes through, whatever an inner layer answered; ``Retry-After`` on 429. Placed twice (IP limits
    before authentication, principal limits after), the inner placement's decision includes the
    outer one's limits and is the one reported (the context's response hook adds the headers of the
    innermost decision). Websocket handshakes are limited like a GET; ``lifespan`` passes through.
    """

    __slots__ = (
        "_exempt_networks",
        "_exempt_principals",
        "_exempt_routes",
        "_exempting",
        "_failover",
        "_fmt",
        "_ietf",
        "_limits",
        "_max_body",
        "_memory",
        "_one",
        "_reads_body",
        "_routed",
        "_shadows",
        "app",
        "config",
    )

    def __init__(self, app: ASGIApp, config: RateLimitConfig) -> None:
        self.app = app
        self.config = config
        self._failover, backend, _clock = configured_failover(config)
        # The embedded backend never waits and never fails: it is called directly, without the
        # coroutine, the time budget or the breaker (a subclass may do either: it goes the long way).
        self._memory = backend if type(backend) is MemoryRateLimitBackend else None
        self._limits = tuple(CompiledLimit(limit, config.prefix, config.fail_mode) for limit in config.limits)
        # Exemptions relax a check: matched on the path as sent, never a looser canonical spelling.
        self._exempt_routes = RouteTable([(ANY_METHOD, path, True) for path in config.exempt_paths], canonical=False)
        self._exempt_principals = config.exempt_principals
        self._exempt_networks = config.networks()
        self._exempting = bool(len(self._exempt_routes) or self._exempt_principals or self._exempt_networks)
        self._reads_body = any(limit.field_decoder is not None for limit in self._limits)
        self._routed = bool(len(self._exempt_routes)) or not all(limit.everywhere for limit in self._limits)
        self._shadows = not all(limit.enforce for limit in self._limits)
        self._ietf = config.ietf_headers
        self._fmt = config.error_format
        self._max_body = config.max_body_bytes
        # One limit on the embedded backend (the usual placement) takes a path without lists or Outcome.
        self._one: tuple[CompiledLimit, MemoryRateLimitBackend] | None = None
        if len(self._limits) == 1 and self._limits[0].field_decoder is None and self._memory is not None:
            self._one = (self._limits[0], self._memory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A websocket handshake is a request too: it is limited like a GET (a refusal closes it with
        # 1008 before accept). Limits that read a command from the body do not apply to it.
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        ctx, send = GuardContext.enter(scope, send)
        method = scope.get("method", "GET")
        path = ctx.route_path(scope) if self._routed else ""
        if self._exempting and self._exempt(scope, ctx, method):
            await self.app(scope, receive, send)
            return
        if self._one is not None:
            one, memory = self._one
            check = one.request_check(scope, ctx, method, path)
            if check is None:
                await self.app(scope, receive, send)
                return
            now, allowed, remaining, reset_us, retry_us = memory.check_one_now(check)
            status = status_of(
                one.name,
                check.burst,
                one.window_for(ctx.principal),
                now,
                allowed,
                remaining,
                reset_us,
                retry_us,
                not check.enforce,
            )
            decision = Decision(allowed=allowed or not check.enforce, limits=(status,), source="memory")
        else:
            if self._reads_body and kind == "http":
                try:
                    checks, used, receive = await self._checks(scope, receive, ctx, method, path)
                except ClientDisconnected:
                    return
                except GuardError as refused:
                    await send_denial(scope, send, refused, fmt=self._fmt)
                    return
            else:
                checks, used = self._checks_now(scope, ctx, method, path, skip_body=self._reads_body)
            if not checks:
                await self.app(scope, receive, send)
                return
            if self._memory is not None:
                decision = self._decision(self._memory.check_now(checks), checks, used, "memory", ctx.principal)
            else:
                remote = await self._decide(scope, checks, used, ctx.principal)
                if remote is None:
                    retry = str(self._failover.breaker.retry_after).encode()
                    error = GuardError(
                        ErrorCode.SERVICE_UNAVAILABLE,
                        "rate_limit_backend_unavailable",
                        headers=((b"retry-after", retry),),
                    )
                    await send_denial(scope, send, error, fmt=self._fmt)
                    return
                decision = remote
        if self._shadows:
            shadowed = [status.name for status in decision.limits if status.shadow and not status.allowed]
            if shadowed:
                emit(
                    scope,
                    "rate_limit_hit",
                    "shadow",
                    "limit_exceeded",
                    limit=",".join(shadowed),
                    source=decision.source,
                )
        own = decision
        outer = ctx.rate_limit
        if isinstance(outer, Decision):
            decision = decision.merged(outer)
        ctx.rate_limit = decision
        # The innermost placement's (merged) headers go on every response from here on, the 429
        # included (with its Retry-After): the context's response hook adds them.
        ctx.rate_limit_headers = headers_for(decision, ietf=self._ietf)
        if not own.allowed:
            names = ",".join(status.name for status in own.denied_by)
            error = GuardError(ErrorCode.RATE_LIMIT_EXCEEDED, "limit_exceeded")
            await send_denial(scope, send, error, fmt=self._fmt, limit=names, source=decision.source)
            return
        await self.app(scope, receive, send)

    def _exempt(self, scope: Scope, ctx: GuardContext, method: str) -> bool:
        if len(self._exempt_routes) and self._exempt_routes.match(method, ctx.raw_route_path(scope)) is not None:
            return True
        if self._exempt_principals and ctx.principal is not None and ctx.principal.id in self._exempt_principals:
            return True
        if self._exempt_networks:
            try:
                address = ipaddress.ip_address(client_host(scope))
            except ValueError:
                return False
            return any(address in network for network in self._exempt_networks)
        return False

    def _checks_now(
        self, scope: Scope, ctx: GuardContext, method: str, path: str, *, skip_body: bool = False
    ) -> tuple[list[Check], list[CompiledLimit]]:
        """The checks of the limits that apply to this request, when no limit reads the body (or, with
        ``skip_body``, leaving out the limits that would: a websocket handshake has no body)."""
        checks: list[Check] = []
        used: list[CompiledLimit] = []
        for limit in self._limits:
            if skip_body and limit.field_decoder is not None:
                continue
            check = limit.request_check(scope, ctx, method, path)
            if check is not None:
                checks.append(check)
                used.append(limit)
        return checks, used

    async def _checks(
        self, scope: Scope, receive: Receive, ctx: GuardContext, method: str, path: str
    ) -> tuple[list[Check], list[CompiledLimit], Receive]:
        """:meth:`_checks_now` when a limit takes its command from the body (read only when such a limit applies)."""
        checks: list[Check] = []
        used: list[CompiledLimit] = []
        body: bytes | None = None
        for limit in self._limits:
            if limit.field_decoder is None:
                check = limit.request_check(scope, ctx, method, path)
                if check is not None:
                    checks.append(check)
                    used.append(limit)
                continue
            if limit.route_params(method, path) is None:
                continue
            who = limit.identity(scope, ctx)
            if who is None:
                continue
            if body is None:
                body, receive = await read_body(scope, receive, self._max_body)
            command = limit.command_from_body(body)
            if command is None:
                continue
            checks.append(limit.check_for(who, command, ctx.principal))
            used.append(limit)
        return checks, used, receive

    async def _decide(
        self, scope: Scope, checks: list[Check], used: list[CompiledLimit], principal: Principal | None
    ) -> Decision | None:
        """The decision, degraded per fail mode when the backend failed; ``None`` means refuse (503)."""
        attempt = await self._failover.check(checks)
        for state in attempt.transitions:
            emit(
                scope,
                "rate_limit_backend",
                "error" if state == "open" else "allow",
                f"circuit_{state}",
                cause=attempt.failure or "recovered",
            )
        if attempt.outcome is not None:
            source: Source = (
                "deny_cache" if attempt.outcome.cached else ("redis" if self._failover.remote else "memory")
            )
            return self._decision(attempt.outcome, checks, used, source, principal)
        # Our own backlog (the backend's queue is full) is no backend failure: closed limits are
        # checked locally rather than refused.
        overloaded = attempt.failure == "overloaded"
        if not overloaded and any(limit.fail_mode == "closed" and limit.enforce for limit in used):
            return None
        local = [
            index
            for index, limit in enumerate(used)
            if limit.fail_mode == "local" or (overloaded and limit.fail_mode == "closed")
        ]
        opened = [limit.name for index, limit in enumerate(used) if index not in local]
        if opened:
            emit(scope, "rate_limit_fail_open", "allow", attempt.failure, limit=",".join(opened))
        if not local:
            return Decision(allowed=True, limits=(), source="fail_open")
        outcome = await self._failover.local.check([checks[index] for index in local])
        kept = [used[index] for index in local]
        return self._decision(outcome, [checks[index] for index in local], kept, "local", principal)

    @staticmethod
    def _decision(
        outcome: Outcome, checks: list[Check], used: list[CompiledLimit], source: Source, principal: Principal | None
    ) -> Decision:
        statuses: list[LimitStatus] = []
        index = 0
        for state in outcome.states:
            check = checks[index]
            limit = used[index]
            index += 1
            if state is None:
                continue
            statuses.append(
                status_of(
                    limit.name,
                    check.burst,
                    limit.window_for(principal),  # the tier's window when a tier applies
                    outcome.now_us,
                    state.allowed,
                    state.remaining,
                    state.reset_us,
                    state.retry_after_us,
                    not check.enforce,
                )
            )
        return Decision(allowed=outcome.allowed, limits=tuple(statuses), source=source)


__all__ = ("RateLimitMiddleware",)
