"""What to limit: :class:`Limit` (a rate, a burst, a key, a cost, where it applies) and tiers."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.ratelimit.rate import Rate

if TYPE_CHECKING:
    from asgi_guard.types import Scope

KeyKind = Literal["ip", "user", "api_key", "community", "global"]
"""``ip``: the client address; ``user``: the principal's id (the IP for anonymous requests);
``api_key``: the key's fingerprint (API-key requests only); ``community``: the request's community
(requests with one only); ``global``: one bucket for everybody."""

FailMode = Literal["closed", "open", "local"]
KEY_KINDS: Final = frozenset({"ip", "user", "api_key", "community", "global"})
PRINCIPAL_KEYS: Final = frozenset({"user", "api_key"})
FAIL_MODES: Final = frozenset({"closed", "open", "local"})
_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,40}")
_METHOD: Final = re.compile(r"[A-Z]{1,20}")

DEFAULT_TIERS: Final[Mapping[str, str]] = {"standard": "100/minute", "premium": "500/minute", "admin": "1000/minute"}
"""Role (or plan) -> rate; callers holding none get the limit's default rate (100/minute)."""


class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a per-command limit finds the command: a route parameter or a top-level JSON field.

    A request without the command is not subject to the limit (the app cannot run a command it was
    not given); a body that is not JSON, or a field that is not a string, is refused (400).
    """

    param: str | None = None
    body_field: str | None = None

    def __post_init__(self) -> None:
        if (self.param is None) == (self.body_field is None):
            raise ConfigurationError.expected("exactly one of `param` and `body_field`", self, "Command")
        for value, where in ((self.param, "Command.param"), (self.body_field, "Command.body_field")):
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigurationError.expected("a non-empty str", value, where)


class Limit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One rate limit.

    Args:
        name: unique in a config, ``[A-Za-z0-9_-]``: part of the Redis key and of the headers.
        rate: ``"100/minute"`` (parsed at construction) or a :class:`Rate`.
        burst: bucket capacity (default: the rate's count, as a fixed window would allow).
        key: what one bucket is shared by (:data:`KeyKind`), or ``callable(scope) -> str | None``
            (``None``: the limit does not apply to this request).
        cost: tokens each request takes (its weight).
        methods: HTTP methods it applies to (default: all).
        paths: route templates it applies to (Starlette syntax; default: all paths).
        command: makes it a per-command limit: one bucket per key and command.
        tiers: role or plan -> rate, replacing ``rate`` for principals holding one (the most
            generous tier held wins). See :func:`tiers`.
        tier_claim: the claim naming the principal's plan, matched against ``tiers`` like a role.
        shadow: evaluate and log, never refuse.
        fail_mode: overrides the config's fail mode for this limit.
    """

    name: str
    rate: str | Rate
    burst: int | None = None
    key: KeyKind | Callable[[Scope], str | None] = "ip"
    cost: int = 1
    methods: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    command: Command | None = None
    tiers: Mapping[str, str | Rate] | None = None
    tier_claim: str = "plan"
    shadow: bool = False
    fail_mode: FailMode | None = None

    def __post_init__(self) -> None:
        where = f"Limit[{self.name!r}]"
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigurationError.expected("a name of 1-40 `[A-Za-z0-9_-]`", self.name, "Limit.name")
        rates = [self.parsed_rate, *self.tier_rates.values()]
        if self.burst is not None and (not isinstance(self.burst, int) or not 0 < self.burst <= 1_000_000_000):
            raise ConfigurationError.expected("a burst in 1..1e9", self.burst, f"{where}.burst")
        if not isinstance(self.cost, int) or isinstance(self.cost, bool) or self.cost < 0:
            raise ConfigurationError.expected("a cost >= 0", self.cost, f"{where}.cost")
        if any(self.cost > self.burst_for(rate) for rate in rates):
            raise ConfigurationError.expected("a cost no larger than the burst", self.cost, f"{where}.cost")
        if not (callable(self.key) or self.key in KEY_KINDS):
            raise ConfigurationError.expected(f"one of {sorted(KEY_KINDS)} or a callable", self.key, f"{where}.key")
        for method in self.methods:
            if not isinstance(method, str) or not _METHOD.fullmatch(method):
                raise ConfigurationError.expected("upper-case method names", method, f"{where}.methods")
        param = self.command.param if self.command is not None else None
        if param is not None and (not self.paths or any(f"{{{param}" not in path for path in self.paths)):
            raise ConfigurationError.expected(f"`paths` templates with `{{{param}}}`", self.paths, f"{where}.paths")
        if self.fail_mode is not None and self.fail_mode not in FAIL_MODES:
            raise ConfigurationError.expected(f"one of {sorted(FAIL_MODES)}", self.fail_mode, f"{where}.fail_mode")

    @property
    def parsed_rate(self) -> Rate:
        return Rate.parse(self.rate, f"Limit[{self.name!r}].rate")

    @property
    def tier_rates(self) -> dict[str, Rate]:
        if self.tiers is None:
            return {}
        if not isinstance(self.tiers, Mapping):
            raise ConfigurationError.expected("a mapping of role to rate", self.tiers, f"Limit[{self.name!r}].tiers")
        return {
            str(tier): Rate.parse(rate, f"Limit[{self.name!r}].tiers[{tier!r}]") for tier, rate in self.tiers.items()
        }

    def burst_for(self, rate: Rate) -> int:
        return self.burst if self.burst is not None else rate.count

    @property
    def needs_principal(self) -> bool:
        return (isinstance(self.key, str) and self.key in PRINCIPAL_KEYS) or bool(self.tiers)


def tiers(
    rates: Mapping[str, str | Rate] = DEFAULT_TIERS,
    *,
    default: str | Rate = "100/minute",
    name: str = "tier",
    key: KeyKind = "user",
    **options: Any,
) -> Limit:
    """A per-principal limit whose rate follows the principal's role or plan.

    The default gives ``standard`` callers 100/minute, ``premium`` 500/minute and ``admin``
    1000/minute; anonymous callers get the default rate, keyed by IP.
    """
    return Limit(name=name, rate=default, key=key, tiers=dict(rates), **options)


__all__ = ("DEFAULT_TIERS", "FAIL_MODES", "Command", "FailMode", "KeyKind", "Limit", "tiers")
