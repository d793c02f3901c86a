"""get_payload / get_query / get_path_params: typed access, clear errors when validation did not run."""

from __future__ import annotations

import msgspec
import pytest

from asgi_guard.context import GuardContext
from asgi_guard.errors import MissingGuardContext
from asgi_guard.testing import make_scope
from asgi_guard.validation import (
    ExecuteAction,
    Validated,
    get_path_params,
    get_payload,
    get_query,
)
from asgi_guard.validation.access import store


class Query(msgspec.Struct):
    page: int = 1


class Request:
    """Something with a `.scope`, as Starlette and Litestar requests have."""

    def __init__(self, scope: dict[str, object]) -> None:
        self.scope = scope


def validated_scope() -> dict[str, object]:
    scope = dict(make_scope("POST", "/x"))
    store(scope, Validated(body=ExecuteAction(user_id="a:1", command="c"), query=Query(), path=[1, 2]))
    return scope


def test_accessors_return_the_typed_parts() -> None:
    """Each accessor returns its part, from a scope or from a request object."""
    scope = validated_scope()
    assert get_payload(scope, ExecuteAction).command == "c"
    assert get_payload(Request(scope), ExecuteAction) is GuardContext.from_scope(scope).payload
    assert get_query(Request(scope), Query) == Query()
    assert get_path_params(scope, list[int]) == [1, 2]


def test_wrong_type_is_a_type_error() -> None:
    """Asking for another type than the route declares raises TypeError naming both."""
    with pytest.raises(TypeError, match=r"Expected the validated body as `<class .*Query'>`, got `ExecuteAction`"):
        get_payload(validated_scope(), Query)


@pytest.mark.parametrize("accessor", [get_payload, get_query, get_path_params])
def test_missing_validation_names_the_middleware(accessor: object) -> None:
    """Without validation, each accessor raises MissingGuardContext telling what to install."""
    assert callable(accessor)
    with pytest.raises(MissingGuardContext, match=r"install asgi_guard\.ValidationMiddleware"):
        accessor(make_scope(), ExecuteAction)


def test_route_without_a_part_leaves_it_unset() -> None:
    """A route declaring only a query leaves the body unset (and the context payload untouched)."""
    scope = dict(make_scope())
    store(scope, Validated(query=Query()))
    assert GuardContext.from_scope(scope).payload is msgspec.UNSET
    assert isinstance(GuardContext.from_scope(scope).validated, Validated)
    with pytest.raises(MissingGuardContext, match="No validated body"):
        get_payload(scope, ExecuteAction)
    with pytest.raises(MissingGuardContext, match="No validated path"):
        get_path_params(scope, Query)


def test_non_scope_argument_is_refused() -> None:
    """Passing something that is neither a scope nor a request is a TypeError."""
    with pytest.raises(TypeError, match="Expected an ASGI scope or a request"):
        get_payload(42, ExecuteAction)
