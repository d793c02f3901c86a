"""The route table's segment trie (added for 1,000-rule policy tables) decides like a linear scan."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard._routing import ANY_METHOD, RouteTable, Template, canonical_path

SEGMENTS = st.sampled_from(("a", "b", "c", "", "{x}", "{y:int}", "p{z}", "{r:path}", "q{s:path}", "7"))
PATH_SEGMENTS = st.sampled_from(("a", "b", "c", "", "7", "42", "pa", "qq", "x.y"))


def linear_match(rules: list[tuple[str, str, int]], method: str, path: str) -> tuple[int, dict[str, str]] | None:
    """The reference: literal rules first, then templates starting with a literal, then the rest, each in order."""
    for methods in (method, ANY_METHOD):
        for rule_method, template, value in rules:
            if "{" not in template and template == path and rule_method == methods:
                return value, {}
    templates = [(m, Template(t), v) for m, t, v in rules if "{" in t]
    head_literal = [r for r in templates if "{" not in r[1].source.split("/")[1]]
    head_param = [r for r in templates if "{" in r[1].source.split("/")[1]]
    for group in (head_literal, head_param):
        for rule_method, template, value in group:
            if rule_method not in (method, ANY_METHOD):
                continue
            params = template.match(path)
            if params is not None:
                return value, params
    return None


def first_per_template(rules: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """Rules the table keeps: for a template, a later rule with the same method and template never wins."""
    kept: list[tuple[str, str, int]] = []
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        if (rule[0], rule[1]) not in seen:
            seen.add((rule[0], rule[1]))
            kept.append(rule)
    return kept


@settings(max_examples=300, deadline=None)
@given(
    templates=st.lists(
        st.tuples(st.sampled_from(("GET", "POST", ANY_METHOD)), st.lists(SEGMENTS, min_size=1, max_size=4)), max_size=8
    ),
    method=st.sampled_from(("GET", "POST", "PUT")),
    path=st.lists(PATH_SEGMENTS, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts)),
)
def test_trie_matches_like_a_linear_scan(templates: list[tuple[str, list[str]]], method: str, path: str) -> None:
    """For random tables and (canonical, as route_path gives them) paths, the indexed match equals the linear scan."""
    path = canonical_path(path)
    rules = []
    for index, (rule_method, segments) in enumerate(templates):
        source = canonical_path("/" + "/".join(segments))
        try:
            Template(source)
        except ValueError:
            continue  # repeated parameter names
        rules.append((rule_method, source, index))
    table: RouteTable[int] = RouteTable(rules)
    assert table.match(method, path) == linear_match(first_per_template(rules), method, path)


def test_thousand_rules_under_one_prefix() -> None:
    """With 1,000 templates sharing `/api/v1/communities/{id}`, the right one is found by its literal segment."""
    table: RouteTable[int] = RouteTable(
        ("GET", f"/api/v1/communities/{{community_id}}/res{i}/{{item}}", i) for i in range(1000)
    )
    assert table.match("GET", "/api/v1/communities/7/res999/3") == (999, {"community_id": "7", "item": "3"})
    assert table.match("GET", "/api/v1/communities/7/res1000/3") is None
    assert table.match("GET", "api/v1/communities/7/res1/3") is None
    assert len(table) == 1000
