"""Issue 11 item 12: RateLimit-Policy's window follows the tier, rate strings name the allowed range."""

from __future__ import annotations

import pytest

from asgi_guard.errors import ConfigurationError
from asgi_guard.ratelimit import Limit, Rate, tiers
from asgi_guard.testing import call, make_scope
from tests.ratelimit.helpers import principal
from tests.ratelimit.test_middleware import as_user, middleware

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("extra", [(), (Limit(name="ip", rate="100000/day"),)], ids=["one-limit", "two-limits"])
async def test_ratelimit_policy_window_is_the_tiers(extra: tuple[Limit, ...]) -> None:
    """A premium caller's policy reports the premium rate's window (an hour), not the default rate's
    minute; anonymous callers still get the default's (both the one-limit and the general path)."""
    tiered = tiers({"premium": "5000/hour"}, default="100/minute")
    app = middleware(tiered, *extra, ietf_headers=True)
    premium = await call(app, as_user(make_scope(), principal("p1", roles=frozenset({"premium"}))))
    anonymous = await call(app, make_scope(client=("10.0.0.2", 1)))
    assert premium.headers["ratelimit-policy"] == '"tier";q=5000;w=3600'
    assert anonymous.headers["ratelimit-policy"] == '"tier";q=100;w=60'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000000001/minute", "a count of 1 to 1_000_000_000 requests"),
        ("99999999999/minute", "a count of 1 to 1_000_000_000 requests"),
        ("9" * 40 + "/second", "a count of 1 to 1_000_000_000 requests"),
        ("0/minute", "a count of 1 to 1_000_000_000 requests"),
        ("5/1000000000s", "a period of 1 second to 366 days"),
        ("5/367d", "a period of 1 second to 366 days"),
        ("5/0s", "a period of 1 second to 366 days"),
        ("five/minute", "a rate such as `100/minute`"),
        ("5/fortnight", "a rate such as `100/minute`"),
    ],
)
def test_rate_errors_name_the_allowed_range(text: str, expected: str) -> None:
    """A number out of range is told the range (it used to get "a rate such as `100/minute`" past nine
    digits); only text that is not a rate gets the example."""
    with pytest.raises(
        ConfigurationError, match="Expected " + expected.replace("`", "`").replace("(", r"\(")
    ) as raised:
        Limit(name="a", rate=text)
    assert "Limit['a'].rate" in str(raised.value)


def test_the_largest_count_parses() -> None:
    """Ten digits are fine when the value is in range."""
    assert Rate.parse("1000000000/minute") == Rate(1_000_000_000, 60)
