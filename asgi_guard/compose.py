"""``guard(app, *configs)``: the recommended entry point, applying the canonical order.

Canonical order, outermost first::

    events -> client ip -> security headers -> rate limit [ip] -> failure limits [ip, credential]
      -> webhooks -> authentication -> csrf -> failure limits [principal] -> tenancy -> rbac
      -> rate limit [principal, key, command, community] -> validation -> app

CSRF sits right after authentication and before the failure limits: a forged cross-site request
is refused before it can count as the victim's failure (else any page could lock a user out).

Configs are data: none imports its middleware. This module holds the table from config type to
middleware, place and prerequisites, so it sits above the layers it assembles. A third-party config
joins by implementing :class:`GuardLayer` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol, runtime_checkable

from asgi_guard.abuse.config import AbuseConfig
from asgi_guard.abuse.middleware import AbuseMiddleware
from asgi_guard.auth.config import AuthConfig
from asgi_guard.auth.middleware import AuthenticationMiddleware
from asgi_guard.clientip import ClientIPConfig, ClientIPMiddleware
from asgi_guard.csrf.config import CSRFConfig
from asgi_guard.csrf.middleware import CSRFMiddleware
from asgi_guard.errors import ConfigurationError
from asgi_guard.events.config import EventsConfig
from asgi_guard.events.middleware import EventsMiddleware
from asgi_guard.headers.config import SecurityHeadersConfig
from asgi_guard.headers.middleware import SecurityHeadersMiddleware
from asgi_guard.ratelimit.config import RateLimitConfig
from asgi_guard.ratelimit.middleware import RateLimitMiddleware
from asgi_guard.rbac.config import RBACConfig
from asgi_guard.rbac.middleware import RBACMiddleware
from asgi_guard.tenancy.config import TenancyConfig
from asgi_guard.tenancy.middleware import TenancyMiddleware
from asgi_guard.validation.config import ValidationConfig
from asgi_guard.validation.middleware import ValidationMiddleware
from asgi_guard.webhooks.config import WebhookConfig
from asgi_guard.webhooks.middleware import WebhookMiddleware

if TYPE_CHECKING:
    from collections.abc import Callable

    from asgi_guard.types import ASGIApp

ORDER: Final[dict[str, int]] = {
    "events": 10,
    "client_ip": 20,
    "security_headers": 30,
    "rate_limit_pre_auth": 40,
    "abuse_pre_auth": 45,
    "webhooks": 50,
    "authentication": 60,
    "csrf": 62,
    "abuse": 63,
    "tenancy": 70,
    "rbac": 80,
    "rate_limit": 90,
    "validation": 100,
}
"""Position of each layer; lower is outer."""


class Layer(NamedTuple):
    """How a config takes its place in the stack.

    Attributes:
        name: a key of :data:`ORDER`.
        requires: names of layers that must also be present (any of the names in one entry, split
            by ``|``, satisfies it).
        build: wraps an app in the configured middleware.
    """

    name: str
    requires: tuple[str, ...]
    build: Callable[[ASGIApp], ASGIApp]


@runtime_checkable
class GuardLayer(Protocol):
    """A config of another package that knows its layer (asgi_guard's own are in :data:`LAYERS`)."""

    def guard_layer(self) -> Layer: ...


class Placement(NamedTuple):
    """Where a config type goes: its middleware, and its layer name and prerequisites for one config."""

    middleware: Callable[[ASGIApp, Any], ASGIApp]
    place: Callable[[Any], tuple[str, tuple[str, ...]]]


def _fixed(name: str, *requires: str) -> Callable[[Any], tuple[str, tuple[str, ...]]]:
    def place(config: Any) -> tuple[str, tuple[str, ...]]:
        return name, requires

    return place


def _rate_limit(config: RateLimitConfig) -> tuple[str, tuple[str, ...]]:
    """Before authentication for ``pre_auth``; after it (and requiring it) for principal keys."""
    if config.stage == "pre_auth":
        return "rate_limit_pre_auth", ()
    return "rate_limit", ("authentication",) if any(limit.needs_principal for limit in config.limits) else ()


def _abuse(config: AbuseConfig) -> tuple[str, tuple[str, ...]]:
    """Before authentication (beside the IP rate limit) for ``pre_auth``; right after it otherwise."""
    if config.stage == "pre_auth":
        return "abuse_pre_auth", ()
    return "abuse", ("authentication",)


LAYERS: Final[dict[type[Any], Placement]] = {
    EventsConfig: Placement(EventsMiddleware, _fixed("events")),
    ClientIPConfig: Placement(ClientIPMiddleware, _fixed("client_ip")),
    SecurityHeadersConfig: Placement(SecurityHeadersMiddleware, _fixed("security_headers")),
    RateLimitConfig: Placement(RateLimitMiddleware, _rate_limit),
    AbuseConfig: Placement(AbuseMiddleware, _abuse),
    WebhookConfig: Placement(WebhookMiddleware, _fixed("webhooks")),
    AuthConfig: Placement(AuthenticationMiddleware, _fixed("authentication")),
    CSRFConfig: Placement(CSRFMiddleware, _fixed("csrf", "authentication")),
    TenancyConfig: Placement(TenancyMiddleware, _fixed("tenancy", "authentication")),
    RBACConfig: Placement(RBACMiddleware, _fixed("rbac", "authentication")),
    ValidationConfig: Placement(ValidationMiddleware, _fixed("validation")),
}
"""Config type -> its middleware and its place: the one table :func:`guard` assembles from."""


def layer_of(config: object, where: str = "config") -> Layer:
    """The :class:`Layer` of ``config``: from :data:`LAYERS`, else its own ``guard_layer()``.

    Raises:
        ConfigurationError: ``config`` is neither an asgi_guard config nor a :class:`GuardLayer`.
    """
    # By class hierarchy, so an application's subclass of a config takes its base's place.
    placement = next((LAYERS[kind] for kind in type(config).__mro__ if kind in LAYERS), None)
    if placement is not None:
        name, requires = placement.place(config)
        middleware = placement.middleware

        def build(app: ASGIApp) -> ASGIApp:
            return middleware(app, config)

        return Layer(name, requires, build)
    if isinstance(config, GuardLayer):
        return config.guard_layer()
    raise ConfigurationError.expected("an asgi_guard config object", type(config).__name__, where)


def guard(app: ASGIApp, *configs: object) -> ASGIApp:
    """Wrap ``app`` in the middlewares for ``configs``, in canonical order.

    Raises:
        ConfigurationError: a config is not a layer, a layer is given twice, or a layer is missing
            one it depends on (RBAC or tenancy without authentication, ...).
    """
    layers: list[Layer] = []
    for index, config in enumerate(configs):
        layer = layer_of(config, f"configs[{index}]")
        if layer.name not in ORDER:
            raise ConfigurationError.expected(f"one of {sorted(ORDER)}", layer.name, f"configs[{index}].layer")
        if any(existing.name == layer.name for existing in layers):
            raise ConfigurationError(f"Expected each layer once, got `{layer.name}` twice - at `configs[{index}]`")
        layers.append(layer)

    present = {layer.name for layer in layers}
    for layer in layers:
        for requirement in layer.requires:
            options = requirement.split("|")
            if not present.intersection(options):
                raise ConfigurationError(
                    f"Expected `{requirement}` with `{layer.name}`, got no such config - at `guard(...)`: "
                    f"{layer.name} needs it in the stack"
                )

    wrapped = app
    for layer in sorted(layers, key=lambda item: ORDER[item.name], reverse=True):
        wrapped = layer.build(wrapped)
    return wrapped


__all__ = ("LAYERS", "ORDER", "GuardLayer", "Layer", "Placement", "guard", "layer_of")
