"""Route templates and the route table shared by per-route configuration."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard._routing import RouteTable, Template, route_path
from asgi_guard.errors import ConfigurationError
from asgi_guard.testing import make_scope


@pytest.mark.parametrize(
    ("root", "path", "expected"),
    [
        ("", "/a", "/a"),
        ("/api", "/a", "/a"),
        ("/api", "", "/"),
        ("/api", "v2/x", "/apiv2/x"),
    ],
)
def test_route_path_strips_root_path_at_a_segment_boundary(root: str, path: str, expected: str) -> None:
    """route_path removes root_path only when it is a whole leading segment."""
    assert route_path(make_scope(path=path, root_path=root)) == expected


def test_route_path_without_path() -> None:
    """A scope without path routes as ""."""
    assert route_path({}) == ""


def test_template_parameters_and_converters() -> None:
    """{name} matches one segment, {name:int} digits, {name:path} the rest."""
    assert Template("/c/{cid}/m/{mid:int}").match("/c/abc/m/42") == {"cid": "abc", "mid": "42"}
    assert Template("/c/{cid}/m/{mid:int}").match("/c/abc/m/x") is None
    assert Template("/files/{rest:path}").match("/files/a/b.txt") == {"rest": "a/b.txt"}
    assert Template("/c/{cid}").match("/c/a/b") is None
    assert Template("/a.b").match("/aXb") is None  # literals are escaped


@pytest.mark.parametrize("source", ["no-slash", "/a/{x}/{x}", "/a/{x:float}", "/a/{", "/a/}"])
def test_bad_templates_are_configuration_errors(source: str) -> None:
    """Templates without a leading slash, with repeated names, unknown converters or stray braces are refused."""
    with pytest.raises(ConfigurationError):
        Template(source)


def test_table_prefers_literals_and_first_rules() -> None:
    """Literal paths beat templates; the first of equally specific rules wins; methods fall back to *."""
    table: RouteTable[str] = RouteTable(
        [
            ("GET", "/users/me", "me"),
            (("GET", "post"), "/users/{uid}", "user"),
            ("GET", "/users/{other}", "shadowed"),
            ("*", "/users/me", "any-me"),
            ("DELETE", "/{tenant}/items", "wild"),
            ("GET", "/users/me", "duplicate-literal"),
        ]
    )
    assert table.match("GET", "/users/me") == ("me", {})
    assert table.match("PUT", "/users/me") == ("any-me", {})
    assert table.match("POST", "/users/42") == ("user", {"uid": "42"})
    assert table.match("DELETE", "/acme/items") == ("wild", {"tenant": "acme"})
    assert table.match("GET", "/acme/items") is None
    assert table.match("PUT", "/users/42") is None
    assert table.match("GET", "/nothing") is None
    assert len(table) == 4


def test_literal_rule_without_the_method_falls_through_to_templates() -> None:
    """A literal path registered for another method does not hide a matching template."""
    table: RouteTable[str] = RouteTable(
        [("POST", "/a/b", "lit"), ("GET", "/a/{x:int}", "num"), ("GET", "/a/{x}", "tpl"), ("*", "/{x}/c", "any")]
    )
    assert table.match("GET", "/a/b") == ("tpl", {"x": "b"})
    assert table.match("GET", "/a/7") == ("num", {"x": "7"})
    assert table.match("GET", "/z/c") == ("any", {"x": "z"})


def test_rule_without_methods_is_refused() -> None:
    """An empty method list is a configuration error."""
    with pytest.raises(ConfigurationError, match="at least one method"):
        RouteTable([((), "/a", 1)])


@settings(max_examples=300, deadline=None)
@given(template=st.text(max_size=30), path=st.text(max_size=40))
def test_templates_and_matching_never_raise_anything_else(template: str, path: str) -> None:
    """For any template text, compiling raises only ConfigurationError, and matching any path never raises."""
    try:
        compiled = Template(template)
    except ConfigurationError:
        return
    result = compiled.match(path)
    assert result is None or set(result) == set(compiled.params)
    table: RouteTable[int] = RouteTable([("GET", template, 1)])
    assert table.match("GET", path) in (None, (1, result if result is not None else {}))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("//admin//users/", "/admin/users"),
        ("/admin/", "/admin"),
        ("/", "/"),
        ("///", "/"),
        ("", ""),
        ("/admin\n", "/admin\n"),
    ],
)
def test_route_path_is_the_spelling_litestar_routes(path: str, expected: str) -> None:
    """Litestar collapses `//` and strips a trailing `/` before routing: rules see that form."""
    assert route_path(make_scope(path=path)) == expected


def test_final_newline_matches_like_starlette() -> None:
    """Starlette's `$` matches before a final newline: `/admin\\n` is `/admin`, and `/a/\\n` still fits `/a/{x}`."""
    table: RouteTable[str] = RouteTable([("*", "/admin", "admin"), ("*", "/a/{x}", "a"), ("*", "/f/{rest:path}", "f")])
    assert table.match("GET", route_path(make_scope(path="/admin\n"))) == ("admin", {})
    assert table.match("GET", route_path(make_scope(path="/admin/\n"))) == ("admin", {})
    assert table.match("GET", route_path(make_scope(path="/a/\n"))) == ("a", {"x": "\n"})
    assert table.match("GET", route_path(make_scope(path="/f/x\n"))) == ("f", {"rest": "x"})
    assert table.match("GET", route_path(make_scope(path="/admin\n\n"))) is None


def test_templates_match_canonical_spellings() -> None:
    """A trailing-slash template matches its canonical path, and `/files/{rest:path}` matches the bare `/files`."""
    table: RouteTable[str] = RouteTable([("*", "/items/", "items"), ("*", "/files/{rest:path}", "files")])
    assert table.match("GET", route_path(make_scope(path="/items/"))) == ("items", {})
    assert table.match("GET", route_path(make_scope(path="/files/"))) == ("files", {"rest": ""})
    assert table.match("GET", route_path(make_scope(path="/files//a/b"))) == ("files", {"rest": "a/b"})


def test_raw_tables_match_templates_as_written() -> None:
    """With canonical=False (tables that relax a check) templates and paths are compared as written."""
    table: RouteTable[int] = RouteTable([("*", "/items/", 1), ("*", "/files/{rest:path}", 2)], canonical=False)
    assert table.match("GET", "/items/") == (1, {})
    assert table.match("GET", "/items/\n") == (1, {})
    assert table.match("GET", "/items") is None
    assert table.match("GET", "/files") is None
    assert table.match("GET", "/files//a") == (2, {"rest": "/a"})


def test_rules_that_collapse_onto_one_route_are_refused() -> None:
    """`/x` and `/x/` (or `//x`) for the same method are one route once normalised: two rules for it are refused."""
    with pytest.raises(ConfigurationError, match="distinct"):
        RouteTable([("GET", "/x", 1), ("GET", "/x/", 2)])
    with pytest.raises(ConfigurationError, match="distinct"):
        RouteTable([("GET", "/a/{id}", 1), ("GET", "/a//{id}", 2)])
    table: RouteTable[int] = RouteTable([("GET", "/x", 1), ("POST", "/x/", 2), ("GET", "/x", 3)])
    assert (table.match("GET", "/x"), table.match("POST", "/x")) == ((1, {}), (2, {}))


def test_memoised_matches_hand_out_fresh_parameters() -> None:
    """A repeated match gives the same answer, and changing one answer's parameters changes no other."""
    table = RouteTable([("GET", "/c/{cid}/x", "scoped"), ("*", "/health", "open")])
    first = table.match("GET", "/c/42/x")
    assert first == ("scoped", {"cid": "42"})
    assert first is not None
    first[1]["cid"] = "tampered"
    assert table.match("GET", "/c/42/x") == ("scoped", {"cid": "42"})
    assert table.match("POST", "/c/42/x") is None
    assert table.match("POST", "/c/42/x") is None
    assert table.match("GET", "/health") == ("open", {})


def test_memo_is_bounded_and_forgets_on_add(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the memo bound every path still matches correctly; a rule added later is seen at once."""
    from asgi_guard import _routing

    monkeypatch.setattr(_routing, "MEMO_LIMIT", 3)
    table = RouteTable([("*", "/c/{cid}", "c")])
    for index in range(10):
        assert table.match("GET", f"/c/{index}") == ("c", {"cid": str(index)})
    assert table.match("GET", "/d/1") is None
    table.add("*", "/d/{did}", "d")
    assert table.match("GET", "/d/1") == ("d", {"did": "1"})
    table.add("*", "/files/{rest:path}", "files")
    assert table.match("GET", "/files/a/b") == ("files", {"rest": "a/b"})
    assert table.match("GET", "files/a/b") is None


def test_long_paths_are_matched_but_never_remembered() -> None:
    """A path past the memo's length bound still matches, and leaves nothing behind in the memo."""
    from asgi_guard._routing import MEMO_MAX_PATH

    table = RouteTable([("*", "/files/{rest:path}", "files")])
    long_path = "/files/" + "a" * MEMO_MAX_PATH
    assert table.match("GET", long_path) == ("files", {"rest": "a" * MEMO_MAX_PATH})
    assert table.match("GET", long_path) == ("files", {"rest": "a" * MEMO_MAX_PATH})
    assert len(table._memo) == 0
