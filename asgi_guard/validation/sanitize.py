"""The ``Sanitize`` marker: string fields cleaned of HTML with nh3 after decoding.

Mark a field ``Annotated[str, Sanitize()]`` (or use :data:`SanitizedStr`) and the validation layer
runs it through an nh3 allow-list once the body has decoded. The default allow-list is empty: every
tag is stripped (the text inside ordinary tags is kept, ``<script>``/``<style>`` content is dropped)
and ``<``, ``>``, ``&`` come out entity-escaped, so the value is safe to put into HTML.

Markers are followed through Struct fields, lists, tuples, sets, dict values and unions (optional
fields included); a marker anywhere else (a dict key, a dataclass or TypedDict field, a non-``str``)
is refused at construction rather than silently ignored. Length and pattern constraints
(``msgspec.Meta``) apply to the client's input, before cleaning; escaping can make the cleaned value
a little longer than the input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Final

import nh3

from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# The only characters nh3 ever changes in text that holds no markup (checked over all of Unicode
# and by a property test): text without any of them skips the Rust call entirely. Substring tests
# are ~20x faster than a regex character class here (bench/micro/validation.py).
_MARKUP_CHARS: Final = ("<", "&", ">", "\r", "\x00", "\xa0", "\ufeff")


class Sanitize:
    """Marks a ``str`` field to be cleaned with nh3 after decoding.

    Args:
        tags: HTML tags to keep (default: none, all markup is stripped).
        attributes: per-tag allowed attributes (``"*"`` for any tag), e.g. ``{"a": {"href"}}``.
        url_schemes: URL schemes allowed in link attributes (default: nh3's safe set).
        strip_comments: drop HTML comments.
        link_rel: ``rel`` added to kept links (must be ``None`` when ``rel`` is an allowed attribute).

    Raises:
        ConfigurationError: nh3 refuses the allow-list (for example ``rel`` allowed with ``link_rel``).
    """

    __slots__ = ("_cleaner", "_key")

    def __init__(
        self,
        *,
        tags: Iterable[str] = (),
        attributes: Mapping[str, Iterable[str]] | None = None,
        url_schemes: Iterable[str] | None = None,
        strip_comments: bool = True,
        link_rel: str | None = "noopener noreferrer",
    ) -> None:
        tag_set = frozenset(tags)
        attribute_map = {tag: frozenset(names) for tag, names in (attributes or {}).items()}
        schemes = frozenset(url_schemes) if url_schemes is not None else None
        self._key = (
            tag_set,
            frozenset(attribute_map.items()),
            schemes,
            strip_comments,
            link_rel,
        )
        try:
            self._cleaner = nh3.Cleaner(
                tags=set(tag_set),
                attributes={tag: set(names) for tag, names in attribute_map.items()} if attributes else None,
                url_schemes=set(schemes) if schemes is not None else None,
                strip_comments=strip_comments,
                link_rel=link_rel,
            )
        except (ValueError, TypeError) as exc:
            raise ConfigurationError.expected("an allow-list nh3 accepts", str(exc), "Sanitize(...)") from exc

    def __call__(self, text: str) -> str:
        """The cleaned text (the same object when there was nothing to clean)."""
        for char in _MARKUP_CHARS:
            if char in text:
                try:
                    return self._cleaner.clean(text)
                except UnicodeEncodeError:
                    # Lone surrogates (a server's surrogateescape-decoded path, say) cannot cross
                    # into Rust: replace them rather than fail the request.
                    return self._cleaner.clean(text.encode("utf-8", "replace").decode("utf-8"))
        return text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sanitize) and other._key == self._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        tags, attributes, schemes, strip_comments, link_rel = self._key
        return (
            f"Sanitize(tags={sorted(tags)!r}, attributes={dict(sorted(attributes))!r}, "
            f"url_schemes={sorted(schemes) if schemes is not None else None!r}, "
            f"strip_comments={strip_comments!r}, link_rel={link_rel!r})"
        )


SanitizedStr = Annotated[str, Sanitize()]
"""A string stripped of all HTML after decoding."""


__all__ = ("Sanitize", "SanitizedStr")
