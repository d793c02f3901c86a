"""A :class:`Limit` compiled for the hot path: route table, key builder, tier table, command decoder."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, Final

import msgspec

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


class CompiledLimit:
    """One limit, ready to produce the :class:`Check` of a request."""

    __slots__ = (
        "_methods",
        "burst",
        "cost",
        "enforce",
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
        command = limit.command
        self.param = command.param if command is not None else None
        self.field_decoder: msgspec.json.Decoder[Any] | None = None
        if command is not None and command.body_field is not None:
            self.field_decoder = msgspec.json.Decoder(
                msgspec.defstruct("CommandField", [("value", str | None, None)], rename={"value": command.body_field})
            )

    def route_params(self, method: str, path: str) -> dict[str, str] | None:
        """The route parameters when the limit applies to this request, else ``None``."""
        if self.routes is not None:
            found = self.routes.match(method, path)
            return found[1] if found is not None else None
        if self._methods is not None and method not in self._methods:
            return None
        return _EVERYWHERE

    def rate_for(self, principal: Principal | None) -> Rate:
        """The principal's tier rate (the most generous it holds), or the limit's rate."""
        if not self.tiers or principal is None:
            return self.rate
        plan = principal.claims.get(self.limit.tier_claim)
        best: Rate | None = None
        for tier, rate in self.tiers:
            if (tier in principal.roles or tier == plan) and (best is None or rate.interval_us < best.interval_us):
                best = rate
        return best if best is not None else self.rate

    def subject(self, scope: Scope, ctx: GuardContext) -> str | None:
        """Who shares the bucket (the hash tag), or ``None`` when the limit does not apply."""
        key = self.limit.key
        principal = ctx.principal
        if callable(key):
            value = key(scope)
            return None if value is None else "f:" + key_part(str(value))
        if key == "ip" or (key == "user" and principal is None):
            return "ip:" + key_part(client_host(scope) or "unknown")
        if key == "user":
            assert principal is not None  # noqa: S101 - narrowed just above, for mypy
            return "u:" + key_part(principal.id)
        if key == "api_key":
            if principal is None or principal.method != "api_key" or not principal.key_fingerprint:
                return None
            return "k:" + key_part(principal.key_fingerprint)
        if key == "community":
            return "c:" + key_part(ctx.community_id) if ctx.community_id else None
        return "g"

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

    def check(self, subject: str, command: str | None, principal: Principal | None) -> Check:
        rate = self.rate_for(principal)
        key = f"{self.prefix}:{{{subject}}}:{self.name}"
        if command is not None:
            key = f"{key}:{key_part(command)}"
        burst = self.burst if self.burst is not None else rate.count
        return Check(key, rate.interval_us, burst, self.cost, self.enforce)


__all__ = ("CompiledLimit", "key_part")
