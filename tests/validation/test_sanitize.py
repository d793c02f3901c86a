"""The Sanitize marker: nh3 cleaning, the allow-list, and the no-markup fast path."""

from __future__ import annotations

import nh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard.errors import ConfigurationError
from asgi_guard.validation import Sanitize


def test_default_strips_all_markup() -> None:
    """By default every tag goes, script content is dropped, and text stays."""
    clean = Sanitize()
    assert clean('<b onclick="x()">bold</b><script>alert(1)</script> <a href="javascript:x">l</a>') == "bold l"


def test_default_escapes_markup_characters() -> None:
    """Lone markup characters come out entity-escaped, so the value is safe inside HTML."""
    assert Sanitize()("1 < 2 & 3 > 2") == "1 &lt; 2 &amp; 3 &gt; 2"


def test_plain_text_is_returned_unchanged_and_uncopied() -> None:
    """Text without markup characters is the same object (no nh3 call)."""
    text = "just a normal message, with 'quotes' and \"more\" ünïcödé"
    assert Sanitize()(text) is text


def test_lone_surrogates_are_replaced_not_fatal() -> None:
    """Text nh3 cannot take (lone surrogates) is cleaned with the surrogates replaced."""
    assert Sanitize()("<b>\udcff</b>") == "?"
    assert Sanitize()("plain \udcff") == "plain \udcff"


def test_allow_list_keeps_listed_tags_and_attributes() -> None:
    """Allowed tags and attributes survive; others are still stripped, links get rel."""
    clean = Sanitize(tags={"b", "a"}, attributes={"a": {"href"}}, url_schemes={"https"})
    out = clean('<b>x</b><i>y</i><a href="https://e.org" onclick="z">l</a><a href="javascript:alert(1)">m</a>')
    assert out == '<b>x</b>y<a href="https://e.org" rel="noopener noreferrer">l</a><a rel="noopener noreferrer">m</a>'


def test_comments_kept_only_when_asked() -> None:
    """strip_comments=False keeps HTML comments; the default drops them."""
    assert Sanitize()("a<!-- c -->b") == "ab"
    assert Sanitize(strip_comments=False)("a<!-- c -->b") == "a<!-- c -->b"


def test_allow_list_nh3_refuses_is_a_configuration_error() -> None:
    """Allowing `rel` while nh3 also sets it is refused at construction."""
    with pytest.raises(ConfigurationError, match=r"Expected an allow-list nh3 accepts.*- at `Sanitize\(...\)`"):
        Sanitize(tags={"a"}, attributes={"a": {"rel"}})


def test_markers_compare_by_allow_list() -> None:
    """Two markers with the same allow-list are equal and hash alike; repr shows the list."""
    first = Sanitize(tags=["b", "i"], attributes={"a": ["href"]}, url_schemes=["https"])
    second = Sanitize(tags=("i", "b"), attributes={"a": ("href",)}, url_schemes=("https",))
    assert first == second
    assert hash(first) == hash(second)
    assert first != Sanitize()
    assert first != "Sanitize()"
    assert repr(first) == (
        "Sanitize(tags=['b', 'i'], attributes={'a': frozenset({'href'})}, url_schemes=['https'], "
        "strip_comments=True, link_rel='noopener noreferrer')"
    )
    assert repr(Sanitize()).startswith("Sanitize(tags=[], attributes={}, url_schemes=None")


@settings(max_examples=300)
@given(st.text())
def test_fast_path_matches_nh3_on_any_text(text: str) -> None:
    """Skipping nh3 for text without markup characters never changes the result."""
    assert Sanitize()(text) == nh3.clean(text, tags=set())


@settings(max_examples=200)
@given(st.lists(st.sampled_from([*"ab <>&\"'=/\x00\r\xa0\ufeff", "<b>", "</b>", "<a href='x'>"])).map("".join))
def test_fast_path_matches_nh3_with_an_allow_list(text: str) -> None:
    """With tags allowed, the result still equals nh3's own cleaning."""
    marker = Sanitize(tags={"b", "a"}, attributes={"a": {"href"}})
    assert marker(text) == nh3.clean(text, tags={"b", "a"}, attributes={"a": {"href"}})
