"""Route matching shared by every layer that configures behaviour per route.

Templates use Starlette's syntax: ``/api/v1/communities/{community_id}/modules`` (one segment) and
``/files/{rest:path}`` (the remainder). Tables are compiled once: literal paths are one dict lookup,
templates sit in a segment trie, so a match only verifies the few templates whose literal segments
fit the path, even with thousands of rules sharing a prefix. Matching runs on the route path,
``path`` minus ``root_path``, in canonical form (see :func:`canonical_path` and :meth:`RouteTable.match`):
a rule must cover every spelling a framework routes to the handler it protects, or a client picks the
spelling the rule skips.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from asgi_guard._memo import Memo
from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from asgi_guard.types import Scope

T = TypeVar("T")

_PARAM: Final = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::(str|path|int))?}")
_CONVERTERS: Final = {"str": "[^/]+", "path": ".*", "int": "[0-9]+"}
ANY_METHOD: Final = "*"
_NO_PARAMS: Final[dict[str, str]] = {}
_UNSEEN: Final[Any] = object()
_SLASHES: Final = re.compile("//+")
MEMO_LIMIT: Final = 1024
"""Results remembered per table (cleared when full: unique paths only cost the matching they cost anyway)."""
MEMO_MAX_PATH: Final = 256
"""Longer paths are matched every time, never remembered: a client cannot pin large strings in memory."""


def canonical_path(path: str) -> str:
    """``path`` as Litestar routes it: slashes collapsed, no trailing slash (``//admin/`` is ``/admin``).

    Rules are matched on this form, so they cover every spelling the framework sends to the handler
    they protect (see also :meth:`RouteTable.match` for Starlette's final newline).
    """
    if "//" in path:
        path = _SLASHES.sub("/", path)
    if len(path) > 1 and path[-1] == "/":
        path = path.rstrip("/") or "/"
    return path


def raw_route_path(scope: Scope) -> str:
    """The path Starlette routes on: ``path`` with ``root_path`` removed, as sent.

    Tables whose rules *relax* a check (authentication ``exclude``, rate-limit exemptions, public
    routes) also match this form, with templates as written: a relaxation holds only when it holds
    for both spellings (Starlette could run a catch-all route for ``/public//x``).
    """
    return strip_root(scope.get("path", ""), scope.get("root_path", ""))


def strip_root(path: str, root: str) -> str:
    """``path`` without the mount prefix ``root`` (see :func:`raw_route_path`)."""
    # Strip the mount prefix only at a segment boundary: root "/api" must not turn "/apiv2/x" into "v2/x".
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


def route_path(scope: Scope) -> str:
    """The path rules are matched on: :func:`raw_route_path` in :func:`canonical_path` form."""
    return canonical_path(raw_route_path(scope))


class Template:
    """One compiled path template."""

    __slots__ = ("params", "pattern", "source")

    def __init__(self, source: str, *, canonical: bool = True) -> None:
        if not source.startswith("/"):
            raise ConfigurationError.expected("a path template starting with `/`", source, "route")
        self.source = source
        if canonical:
            source = canonical_path(source)
        parts: list[str] = []
        names: list[str] = []
        position = 0
        for found in _PARAM.finditer(source):
            parts.append(re.escape(source[position : found.start()]))
            name = found.group(1)
            if name in names:
                raise ConfigurationError.expected("unique parameter names", source, "route")
            names.append(name)
            parts.append(f"(?P<{name}>{_CONVERTERS[found.group(2) or 'str']})")
            position = found.end()
        tail = source[position:]
        if "{" in tail or "}" in tail:
            raise ConfigurationError.expected("`{name}` or `{name:path}` parameters", source, "route")
        if canonical and not tail and source.endswith(":path}") and parts[-2].endswith("/"):
            # `/files/{rest:path}` also matches `/files/`, whose canonical form is `/files`.
            parts[-2], parts[-1] = parts[-2][:-1], f"(?:/{parts[-1]})?"
        parts.append(re.escape(tail))
        self.params = tuple(names)
        self.pattern = re.compile("".join(parts))

    @property
    def is_literal(self) -> bool:
        return not self.params

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        return found.groupdict("") if found is not None else None


def _first_segment(path: str) -> str:
    end = path.find("/", 1)
    return path[1:] if end == -1 else path[1:end]


class _Node(Generic[T]):
    """One trie level: literal segments, any one segment, and templates whose ``:path`` starts here."""

    __slots__ = ("ends", "literal", "param", "rest")

    def __init__(self) -> None:
        self.literal: dict[str, _Node[T]] = {}
        self.param: _Node[T] | None = None
        self.ends: list[_Entry[T]] = []
        self.rest: list[_Entry[T]] = []


# (precedence, template, values by method); lower precedence wins.
_Entry = tuple[tuple[int, int], Template, dict[str, T]]


class RouteTable(Generic[T]):
    """Maps (method, path) to a value; first added rule wins among equally specific matches.

    Literal paths beat templates, and templates starting with a literal segment beat templates
    starting with a parameter. Methods are upper-case names or ``*`` for any method. The trie only
    narrows the candidates (a superset of the matches); each candidate is verified by its regex, in
    precedence order, so the result is the same as a linear scan.
    """

    __slots__ = ("_canonical", "_count", "_literal", "_memo", "_root", "_spelled")

    def __init__(self, rules: Iterable[tuple[Iterable[str] | str, str, T]] = (), *, canonical: bool = True) -> None:
        """``canonical``: templates in :func:`canonical_path` form, for :func:`route_path` (``False``:
        templates as written, for :func:`raw_route_path`)."""
        self._literal: dict[str, dict[str, T]] = {}
        self._root: _Node[T] = _Node()
        self._count = 0
        self._canonical = canonical
        self._spelled: dict[tuple[str, str], str] = {}
        # (method, path) -> (value, params) or None: the same few paths come back request after
        # request, and a template match (split, trie walk, regex) costs far more than a lookup.
        self._memo: Memo[tuple[str, str], tuple[T, dict[str, str]] | None] = Memo(MEMO_LIMIT)
        for methods, template, value in rules:
            self.add(methods, template, value)

    def add(self, methods: Iterable[str] | str, template: str, value: T) -> None:
        """Add a rule (at construction time only)."""
        compiled = Template(template, canonical=self._canonical)
        self._memo.clear()
        names = [methods] if isinstance(methods, str) else list(methods)
        if not names:
            raise ConfigurationError.expected("at least one method", names, f"route `{template}`")
        by_method: dict[str, T] = {name.upper(): value for name in names}
        if self._canonical:
            source, template = template, canonical_path(template)
            for method in by_method:
                # `/x` and `/x/` are one route here: two rules for it would silently become the first.
                first = self._spelled.setdefault((template, method), source)
                if first != source:
                    raise ConfigurationError(
                        f"Expected routes that stay distinct once `//` and a trailing `/` are ignored, "
                        f"got `{first}` and `{source}` for {method} - at `route`"
                    )
        if compiled.is_literal:
            slot = self._literal.setdefault(template, {})
            for method, item in by_method.items():
                slot.setdefault(method, item)
            return
        self._count += 1
        entry: _Entry[T] = ((1 if "{" in _first_segment(template) else 0, self._count), compiled, by_method)
        node = self._root
        for segment in template.split("/")[1:]:
            if ":path}" in segment:  # the remainder may span segments: a candidate for any deeper path
                node.rest.append(entry)
                return
            if "{" in segment:
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node = node.literal.setdefault(segment, _Node())
        node.ends.append(entry)

    def _candidates(self, path: str) -> list[_Entry[T]]:
        segments = path.split("/")
        last = len(segments)
        found: list[_Entry[T]] = []
        pending: list[tuple[_Node[T], int]] = []
        node: _Node[T] | None = self._root
        depth = 1
        while True:
            # Walk down the literal branch; remember parameter branches to visit afterwards.
            while node is not None:
                if node.rest:
                    found.extend(node.rest)
                if depth == last:
                    if node.ends:
                        found.extend(node.ends)
                    break
                if node.param is not None:
                    pending.append((node.param, depth + 1))
                node = node.literal.get(segments[depth])
                depth += 1
            if not pending:
                return found
            node, depth = pending.pop()

    def match(self, method: str, path: str) -> tuple[T, dict[str, str]] | None:
        """The value for ``method`` and ``path`` with the template's parameters, or ``None``.

        Starlette (and FastAPI) match routes with ``^...$``, and ``$`` also matches before a final
        newline: ``/admin%0A`` runs the ``/admin`` handler, while ``/a/%0A`` runs ``/a/{x}`` with
        ``x="\\n"``. A path ending in a newline is therefore matched without it first, then as is.
        Results are remembered per (method, path) in a bounded memo; the parameters are a fresh dict
        on every call (a caller may keep or change its own).
        """
        if len(path) > MEMO_MAX_PATH:
            return self._match_spelled(method, path)
        key = (method, path)
        found = self._memo.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self._memo.put(key, self._match_spelled(method, path))
        return found if found is None or not found[1] else (found[0], dict(found[1]))

    def _match_spelled(self, method: str, path: str) -> tuple[T, dict[str, str]] | None:
        if path[-1:] == "\n":
            found = self._match(method, canonical_path(path[:-1]) if self._canonical else path[:-1])
            if found is not None:
                return found
        return self._match(method, path)

    def _match(self, method: str, path: str) -> tuple[T, dict[str, str]] | None:
        literal = self._literal.get(path)
        if literal is not None:
            value = literal.get(method)
            if value is None:
                value = literal.get(ANY_METHOD)
            if value is not None:
                return value, _NO_PARAMS
        if not path.startswith("/"):
            return None
        candidates = self._candidates(path)
        if len(candidates) > 1:
            candidates.sort(key=_precedence)
        for _, template, by_method in candidates:
            value = by_method.get(method)
            if value is None:
                value = by_method.get(ANY_METHOD)
            if value is None:
                continue
            params = template.match(path)
            if params is not None:
                return value, params
        return None

    def __len__(self) -> int:
        return len(self._literal) + self._count


def _precedence(entry: _Entry[T]) -> tuple[int, int]:
    return entry[0]


__all__ = (
    "ANY_METHOD",
    "MEMO_LIMIT",
    "MEMO_MAX_PATH",
    "RouteTable",
    "Template",
    "canonical_path",
    "raw_route_path",
    "route_path",
    "strip_root",
)
