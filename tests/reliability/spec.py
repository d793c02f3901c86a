"""What one layer of the fuzzed stack is: :class:`LayerSpec`, and the routes the harness uses."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from asgi_guard._headers import get_all
from tests.reliability.credentials import COMMUNITY

Scope = dict[str, Any]
Check = Callable[[Scope, bytes], "str | None"]

SAFE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
WEBHOOK_PATH: Final = "/webhook/generic"
ACTION_PATH: Final = "/api/v1/action/execute"
ADMIN_PATH: Final = "/api/v1/admin/users"
PROFILE_PATH: Final = "/api/v1/profile"
MODERATE_TEMPLATE: Final = "/api/v1/communities/{community_id}/moderate"
MODERATE_PATH: Final = f"/api/v1/communities/{COMMUNITY}/moderate"
ROUTES: Final = (PROFILE_PATH, ADMIN_PATH, ACTION_PATH, WEBHOOK_PATH, MODERATE_PATH, "/api/v1/communities/43/moderate")


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the fuzzed stack.

    Attributes:
        name: for messages.
        module: the package that must be present for the layer to be active.
        config: builds the layer's config (called once per test).
        admits: run by the app on every request it receives: ``None`` when the request really met
            this layer's guarantee, else a description of the bypass.
        valid: header name -> values with which a request passes this layer (the body is passed
            in, for signatures).
        hostile: header name -> hostile values specific to this layer.
        secrets: values the secrets scan must never find in logs or error responses.
    """

    name: str
    module: str
    config: Callable[[], Any]
    admits: Check
    valid: dict[bytes, Callable[[bytes], list[bytes]]] = field(default_factory=dict)
    hostile: dict[bytes, list[bytes]] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


def one_header(scope: Scope, name: bytes) -> bytes | None:
    values = get_all(scope, name)
    return values[0] if len(values) == 1 else None


__all__ = (
    "ACTION_PATH",
    "ADMIN_PATH",
    "MODERATE_PATH",
    "MODERATE_TEMPLATE",
    "PROFILE_PATH",
    "ROUTES",
    "SAFE_REQUEST_ID",
    "WEBHOOK_PATH",
    "Check",
    "LayerSpec",
    "Scope",
    "one_header",
)
