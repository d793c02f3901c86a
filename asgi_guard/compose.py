"""``guard(app, *configs)``: the recommended entry point, applying the canonical order.

Canonical order, outermost first (DESIGN.md §1)::

    events -> client ip -> security headers -> rate limit [ip] -> failure limits [ip, credential]
      -> webhooks -> authentication -> csrf -> failure limits [principal] -> tenancy -> rbac
      -> rate limit [principal, key, command, community] -> validation -> app

CSRF sits right after authentication and before the failure limits: a forged cross-site request
is refused before it can count as the victim's failure (else any page could lock a user out).

Each config class says where it goes and what it needs by implementing :class:`GuardLayer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple, Protocol, runtime_checkable

from asgi_guard.errors import ConfigurationError

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
    """A config object that knows its layer."""

    def guard_layer(self) -> Layer: ...


def guard(app: ASGIApp, *configs: GuardLayer) -> ASGIApp:
    """Wrap ``app`` in the middlewares for ``configs``, in canonical order.

    Raises:
        ConfigurationError: a config is not a layer, a layer is given twice, or a layer is missing
            one it depends on (RBAC or tenancy without authentication, ...).
    """
    layers: list[Layer] = []
    for index, config in enumerate(configs):
        if not isinstance(config, GuardLayer):
            raise ConfigurationError.expected("an asgi_guard config object", type(config).__name__, f"configs[{index}]")
        layer = config.guard_layer()
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


__all__ = ("ORDER", "GuardLayer", "Layer", "guard")
