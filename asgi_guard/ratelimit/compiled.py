"""A :class:`Limit` compiled for the hot path: route table, key builder, tier table, command decoder."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, Final

import msgspec

from asgi_guard._memo import Memo
from asgi_guard._routing import ANY_METHOD, RouteTable
from asgi_guard.context import client_host
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.ratelimit.gcra import Check

if TYPE_CHECKING:
    from asgi_guard.context import GuardContext
    from asgi_guard.principal import Principal
    from asgi_guard.ratelimit.limits import FailMode, Limit
    from asgi_guard.ratelimit.rate import Rate
    from asgi_guard.types import Scope

_PLAIN: Final = re.compile(r"[A-Za-z0-9._@+:-]{1,100}")
_EVERYWHERE: Final[dict[str, str]] = {}


def key_part(value: str) -> str:
    """A client-influenced value made safe inside a key: plain values as they are, others hashed.

    Hash tags end at the first ``}``, so a value must never carry braces; ``#`` marks a hash, which
    no plain value contains, so the two forms cannot collide.
    """
    if _PLAIN.fullmatch(value):
        return value
    return "#" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


MEMO_LIMIT: Final = 4096
"""Checks remembered per limit (cleared when full: a flood of fresh callers only costs rebuilding)."""
MEMO_MAX_VALUE: Final = 128
"""Identities or commands longer than this are never remembered (a client cannot pin large strings)."""


class CompiledLimit:
    """One limit, ready to produce the :class:`Check` of a request."""

    __slots__ = (
        "_by_ip",
        "_memo",
        "_methods",
        "burst",
        "cost",
        "enforce",
        "everywhere",
        "fail_mode",
        "field_decoder",
        "limit",
        "name",
        "param",
        "prefix",
        "rate",
        "routes",
        "tiers",
    )

    def __init__(self, limit: Limit, prefix: str, fail_mode: FailMode) -> None:
        self.limit = limit
        self.name = limit.name
        self.prefix = prefix
        self.rate = limit.parsed_rate
        self.burst = limit.burst
        self.tiers = tuple(limit.tier_rates.items())
        self.cost = limit.cost
        self.enforce = not limit.shadow
        self.fail_mode: FailMode = limit.fail_mode or fail_mode
        methods = limit.methods or (ANY_METHOD,)
        if "GET" in methods and "HEAD" not in methods:
            methods = (*methods, "HEAD")  # frameworks run the GET handler for HEAD: it costs the same
        self.routes: RouteTable[bool] | None = (
            RouteTable([(methods, path, True) for path in limit.paths]) if limit.paths else None
        )
        self._methods = frozenset(methods) if limit.methods and not limit.paths else None
        self.everywhere = self.routes is None and self._methods is None
        command = limit.command
        self.param = command.param if command is not None else None
        self.field_decoder: msgspec.json.Decoder[Any] | None = None
        if command is not None and command.body_field is not None:
            self.field_decoder = msgspec.json.Decoder(
                msgspec.defstruct("CommandField", [("value", str | None, None)], rename={"value": command.body_field})
            )
        self._memo: Memo[tuple[str, str | None, str | None, Rate], Check] = Memo(MEMO_LIMIT)
        # The commonest limit (per client IP, every route, one rate) keyed by the address alone.
        self._by_ip: Memo[str, Check] | None = (
            Memo(MEMO_LIMIT) if limit.key == "ip" and self.everywhere and not self.tiers else None
        )

    def route_params(self, method: str, path: str) -> dict[str, str] | None:
        """The route parameters when the limit applies to this request, else ``None``."""
        if self.routes is not None:
            found = self.routes.match(method, path)
            return found[1] if found is not None else None
        if self._methods is not None and method not in self._methods:
            return None
        return _EVERYWHERE

    def rate_for(self, principal: Principal) -> Rate:
        """The principal's tier rate (the most generous it holds), or the limit's rate."""
        plan = principal.claims.get(self.limit.tier_claim)
        best: Rate | None = None
        for tier, rate in self.tiers:
            if (tier in principal.roles or tier == plan) and (best is None or rate.interval_us < best.interval_us):
                best = rate
        return best if best is not None else self.rate

    def window_for(self, principal: Principal | None) -> int:
        """The period in seconds of the rate applied to ``principal`` (``RateLimit-Policy``'s ``w``)."""
        return self.rate.period if not self.tiers or principal is None else self.rate_for(principal).period

    def identity(self, scope: Scope, ctx: GuardContext) -> tuple[str, str | None] | None:
        """Who shares the bucket as ``(tag, raw value)``, or ``None`` when the limit does not apply.

        The subject (the hash tag) is the tag followed by :func:`key_part` of the raw value.
        """
        key = self.limit.key
        principal = ctx.principal
        if callable(key):
            value = key(scope)
            return None if value is None else ("f:", str(value))
        if key == "ip" or (key == "user" and principal is None):
            host = ctx.client_ip or client_host(scope)  # the client-ip layer's answer, without a call
            return "ip:", host or "unknown"
        if key == "user":
            assert principal is not None  # noqa: S101 - narrowed just above, for mypy
            return "u:", principal.id
        if key == "api_key":
            if principal is None or principal.method != "api_key" or not principal.key_fingerprint:
                return None
            return "k:", principal.key_fingerprint
        if key == "community":
            return ("c:", ctx.community_id) if ctx.community_id else None
        return "g", None

    def command_from_body(self, body: bytes) -> str | None:
        """The command named in a JSON body (``None`` when absent)."""
        assert self.field_decoder is not None  # noqa: S101 - only called for body-field limits
        if not body:
            return None
        try:
            value = self.field_decoder.decode(body).value
        # msgspec raises RecursionError past 1,000 nested levels (even in skipped fields) and
        # UnicodeDecodeError for invalid UTF-8 in a string, not DecodeError: all are the client's fault.
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
            raise GuardError(ErrorCode.MALFORMED_REQUEST, "rate_limit_command_unreadable") from exc
        return value if value is None else str(value)

    def request_check(self, scope: Scope, ctx: GuardContext, method: str, path: str) -> Check | None:
        """The check of a request for a limit that needs no body, or ``None`` when it does not apply."""
        by_ip = self._by_ip
        if by_ip is not None:
            host = ctx.client_ip or client_host(scope) or "unknown"  # as identity() answers for "ip"
            found = by_ip.get(host)
            if found is None:
                found = self.check_for(("ip:", host), None, None)
                if len(host) <= MEMO_MAX_VALUE:
                    by_ip.put(host, found)
            return found
        if self.everywhere:
            command = None
        else:
            params = self.route_params(method, path)
            if params is None:
                return None
            command = params.get(self.param) if self.param is not None else None
        who = self.identity(scope, ctx)
        if who is None:
            return None
        principal = ctx.principal
        rate = self.rate if not self.tiers or principal is None else self.rate_for(principal)
        found = self._memo.get((who[0], who[1], command, rate))
        return found if found is not None else self.check_for(who, command, principal)

    def check_for(self, who: tuple[str, str | None], command: str | None, principal: Principal | None) -> Check:
        """The check for an :meth:`identity`, memoised: the same callers come back request after
        request, and a key costs a regex (or a hash) and a few allocations to build."""
        rate = self.rate if not self.tiers or principal is None else self.rate_for(principal)
        tag, raw = who
        memo = (tag, raw, command, rate)
        found = self._memo.get(memo)
        if found is None:
            key = f"{self.prefix}:{{{tag if raw is None else tag + key_part(raw)}}}:{self.name}"
            if command is not None:
                key = f"{key}:{key_part(command)}"
            burst = self.burst if self.burst is not None else rate.count
            found = Check(key, rate.interval_us, burst, self.cost, self.enforce)
            if len(raw or "") + len(command or "") <= MEMO_MAX_VALUE:
                self._memo.put(memo, found)
        return found


__all__ = ("MEMO_LIMIT", "MEMO_MAX_VALUE", "CompiledLimit", "key_part")
