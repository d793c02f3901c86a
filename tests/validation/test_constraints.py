"""Every constraint kind msgspec declares in types, enforced through the middleware with field paths."""

from __future__ import annotations

import datetime
import enum
import uuid
from typing import Annotated, Any, Literal

import msgspec
import pytest
from msgspec import Meta

from asgi_guard.testing import call
from asgi_guard.validation import ValidationConfig, ValidationMiddleware
from tests.validation.apps import echo, post

pytestmark = pytest.mark.anyio


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Inner(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, Meta(pattern=r"\A[A-Z]{3}\Z")]


class Everything(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pattern: Annotated[str, Meta(pattern=r"\A[a-z]+:[0-9]+\Z")] = "a:1"
    short: Annotated[str, Meta(min_length=2, max_length=4)] = "abc"
    ge_le: Annotated[int, Meta(ge=1, le=10)] = 5
    gt_lt: Annotated[float, Meta(gt=0, lt=1)] = 0.5
    multiple: Annotated[int, Meta(multiple_of=5)] = 10
    items: Annotated[list[int], Meta(min_length=1, max_length=3)] = msgspec.field(default_factory=lambda: [1])
    keys: Annotated[dict[str, int], Meta(max_length=2)] = msgspec.field(default_factory=dict)
    choice: Literal["a", "b"] = "a"
    color: Color = Color.RED
    when: datetime.datetime = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    aware: Annotated[datetime.datetime, Meta(tz=True)] = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    ident: uuid.UUID = uuid.UUID(int=1)
    blob: Annotated[bytes, Meta(max_length=4)] = b"ab"
    flag: bool = False
    nested: list[Inner] = msgspec.field(default_factory=list)


def app() -> ValidationMiddleware:
    return ValidationMiddleware(echo, ValidationConfig(routes={("POST", "/e"): Everything}))


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("pattern", "a:1\n", "Expected `str` matching regex '\\\\A[a-z]+:[0-9]+\\\\Z' - at `$.pattern`"),
        ("pattern", "a:\u0661", "Expected `str` matching regex '\\\\A[a-z]+:[0-9]+\\\\Z' - at `$.pattern`"),
        ("short", "a", "Expected `str` of length >= 2 - at `$.short`"),
        ("short", "abcde", "Expected `str` of length <= 4 - at `$.short`"),
        ("ge_le", 0, "Expected `int` >= 1 - at `$.ge_le`"),
        ("ge_le", 11, "Expected `int` <= 10 - at `$.ge_le`"),
        ("gt_lt", 0, "Expected `float` > 0.0 - at `$.gt_lt`"),
        ("gt_lt", 1.0, "Expected `float` < 1.0 - at `$.gt_lt`"),
        ("multiple", 7, "Expected `int` that's a multiple of 5 - at `$.multiple`"),
        ("items", [], "Expected `array` of length >= 1 - at `$.items`"),
        ("items", [1, 2, 3, 4], "Expected `array` of length <= 3 - at `$.items`"),
        ("keys", {"a": 1, "b": 2, "c": 3}, "Expected `object` of length <= 2 - at `$.keys`"),
        ("choice", "c", "Invalid enum value 'c' - at `$.choice`"),
        ("color", "green", "Invalid enum value 'green' - at `$.color`"),
        ("when", "yesterday", "Invalid RFC3339 encoded datetime - at `$.when`"),
        ("aware", "2024-01-01T00:00:00", "Expected `datetime` with a timezone component - at `$.aware`"),
        ("ident", "not-a-uuid", "Invalid UUID - at `$.ident`"),
        ("blob", "AAAAAAAA", "Expected `bytes` of length <= 4 - at `$.blob`"),
        (
            "nested",
            [{"code": "ABC"}, {"code": "abc"}],
            "Expected `str` matching regex '\\\\A[A-Z]{3}\\\\Z' - at `$.nested[1].code`",
        ),
    ],
)
async def test_each_constraint_kind_is_enforced_with_its_path(field: str, value: Any, detail: str) -> None:
    """A value breaking one constraint is a 400 validation_error naming msgspec's rule and the field path."""
    response = await call(app(), post("/e"), msgspec.json.encode({field: value}))
    assert response.status == 400
    assert response.json() == {"error": "validation_error", "detail": detail}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("flag", 1, "Expected `bool`, got `int` - at `$.flag`"),
        ("ge_le", "5", "Expected `int`, got `str` - at `$.ge_le`"),
        ("ge_le", 5.0, "Expected `int`, got `float` - at `$.ge_le`"),
        ("short", 123, "Expected `str`, got `int` - at `$.short`"),
        ("items", {"a": 1}, "Expected `array`, got `object` - at `$.items`"),
        ("nested", [1], "Expected `object`, got `int` - at `$.nested[0]`"),
        ("short", None, "Expected `str`, got `null` - at `$.short`"),
    ],
)
async def test_wrong_types_are_refused_strictly(field: str, value: Any, expected: str) -> None:
    """Strict decoding: no coercion from strings, floats or ints to other types."""
    response = await call(app(), post("/e"), msgspec.json.encode({field: value}))
    assert response.status == 400
    assert response.json()["detail"] == expected


async def test_a_valid_payload_decodes_into_the_type() -> None:
    """Values within every constraint pass, and the decoded object reaches the app."""
    body = {"pattern": "abc:42", "items": [1, 2, 3], "color": "blue", "nested": [{"code": "XYZ"}], "blob": "AQID"}
    response = await call(app(), post("/e"), msgspec.json.encode(body))
    assert response.status == 200
    payload = response.json()["payload"]
    assert payload["pattern"] == "abc:42"
    assert payload["color"] == "blue"
    assert payload["nested"] == [{"code": "XYZ"}]


@pytest.mark.parametrize(
    ("number", "detail"),
    [
        (b"1" + b"0" * 5000, "Integer value out of range - at `$.ge_le`"),
        (b"1e400", "Number out of range - at `$.ge_le`"),
        (b"-1e400", "Number out of range - at `$.ge_le`"),
        (b"123456789012345678901234567890", "Expected `int` <= 10 - at `$.ge_le`"),
    ],
)
async def test_huge_numbers_are_validation_errors(number: bytes, detail: str) -> None:
    """Numbers beyond any range are 400s, never an exception or a silent infinity."""
    response = await call(app(), post("/e"), b'{"ge_le": ' + number + b"}")
    assert response.status == 400
    assert response.json() == {"error": "validation_error", "detail": detail}


async def test_huge_float_is_refused_for_float_fields() -> None:
    """An out-of-range float literal is refused rather than decoded as infinity."""
    response = await call(app(), post("/e"), b'{"gt_lt": 1e999}')
    assert response.json() == {"error": "validation_error", "detail": "Number out of range - at `$.gt_lt`"}
