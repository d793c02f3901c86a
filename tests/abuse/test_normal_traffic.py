"""Normal traffic through the reliability harness's full stack never trips a pattern or a limit.

The requests are the harness's own valid ones (every layer's valid headers, one kind of credential,
the right method for each known route), spread over 40 clients that each keep their credential, with
the everyday noise of a user: now and then a request to a community they are not in, or an expired
token before refreshing. The abuse layer runs with its shipped defaults.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from typing import Any

import jwt
import pytest

from asgi_guard import guard
from asgi_guard.abuse import AbuseConfig, failure_limits
from asgi_guard.context import get_context
from asgi_guard.testing import call
from tests.abuse.conftest import App
from tests.reliability.credentials import COMMUNITY, JWT_KID, JWT_SECRET
from tests.reliability.hostile import BODIES, POST_ROUTES, HostileRequest
from tests.reliability.layers import active_layers
from tests.reliability.spec import ACTION_PATH, ADMIN_PATH, MODERATE_PATH, PROFILE_PATH, WEBHOOK_PATH

pytestmark = pytest.mark.anyio

CLIENTS = 40
REQUESTS = 1200
ROUTES = (PROFILE_PATH, ACTION_PATH, MODERATE_PATH, WEBHOOK_PATH)
NOT_MINE = (ADMIN_PATH, "/api/v1/communities/43/moderate")


def own_token(client: int, *, expired: bool = False) -> bytes:
    """Each client has its own token (the harness's valid claims, another subject)."""
    now = int(time.time()) - (7200 if expired else 0)
    claims = {
        "sub": f"user:{100 + client}",
        "roles": ["user"],
        "communities": {COMMUNITY: ["moderator"]},
        "iat": now,
        "exp": now + 3600,
        "jti": f"normal-{client}",
        "type": "access",
    }
    return b"Bearer " + jwt.encode(claims, JWT_SECRET, algorithm="HS256", headers={"kid": JWT_KID}).encode()


def normal_request(route: str, credential: bytes, layers: list[Any]) -> HostileRequest:
    body = BODIES[1] if route == ACTION_PATH else b""
    headers: list[tuple[bytes, bytes]] = [(b"authorization", credential)]
    for spec in layers:
        for name, values in spec.valid.items():
            if name in (b"authorization", b"x-api-key"):
                continue
            found = values(body)
            if found:
                headers.append((name, found[0]))
    return HostileRequest("POST" if route in POST_ROUTES else "GET", route, headers, [body])


async def test_normal_traffic_trips_nothing() -> None:
    """1,200 everyday requests from 40 clients: no suspicious_activity event and no failure-limit 429."""
    layers = active_layers()
    abuse = AbuseConfig(limits=failure_limits())
    stack = guard(App(), abuse, *(spec.config() for spec in layers))
    statuses: Counter[int] = Counter()
    events: Counter[str] = Counter()
    routes = itertools.cycle(ROUTES)
    tokens = [own_token(client) for client in range(CLIENTS)]
    for number in range(REQUESTS):
        client = number % CLIENTS
        route = NOT_MINE[number % 2] if number % 41 == 0 else next(routes)  # a wrong turn now and then
        credential = (
            own_token(client, expired=True) if number % 97 == 0 else tokens[client]
        )  # expired, before a refresh
        request = normal_request(route, credential, layers)
        scope = request.scope()
        scope["client"] = (f"198.51.100.{client}", 40000)
        recorder = await call(stack, scope, request.body)
        statuses[recorder.status] += 1
        for event in get_context(scope).events:
            events[f"{event.type}:{event.reason}"] += 1
    assert not [name for name in events if name.startswith("suspicious_activity")], events
    assert events["rate_limit_hit:failure_limit_exceeded"] == 0, events
    assert statuses[200] > REQUESTS // 3, statuses  # most of it is real, successful traffic
    assert sum(count for status, count in statuses.items() if status in (401, 403)) > 20, statuses
