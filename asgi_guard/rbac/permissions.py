"""Permission strings and the compiled matcher that answers ``permission in grants`` in O(1).

Grammar: ``resource:action`` where both are segments of ``[A-Za-z0-9_.-]``; ``resource:*`` grants
every action of ``resource`` (whole segment: ``community:*`` never grants ``communityx:moderate``, the
prefix-star pitfall of casbin's ``keyMatch``); ``*`` grants everything. ``authenticated`` is Starlette's
conventional scope and holds for every principal.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from asgi_guard._memo import Memo
from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import GuardCredentials, PermissionSet

if TYPE_CHECKING:
    from collections.abc import Iterable

ALL: Final = "*"
AUTHENTICATED: Final = "authenticated"
_SEGMENT: Final = r"[A-Za-z0-9_.\-]+"
_PERMISSION: Final = re.compile(rf"(?:{_SEGMENT}):(?:{_SEGMENT}|\*)")
_MEMO_LIMIT: Final = 4096


def is_permission(text: object) -> bool:
    """Whether ``text`` is ``*`` or a well-formed ``resource:action`` / ``resource:*``."""
    return isinstance(text, str) and (text == ALL or _PERMISSION.fullmatch(text) is not None)


def check_permission(text: object, at: str) -> str:
    """``text`` if it is a well-formed permission, else :class:`ConfigurationError`."""
    if not is_permission(text):
        raise ConfigurationError.expected("a permission `resource:action`, `resource:*` or `*`", text, at)
    return text  # type: ignore[return-value]  # is_permission proved it is a str


def check_requirement(text: object, at: str) -> str:
    """Like :func:`check_permission`, also accepting ``authenticated`` (any principal)."""
    if text == AUTHENTICATED:
        return AUTHENTICATED
    return check_permission(text, at)


def covered(patterns: frozenset[str], wild: frozenset[str], permission: str) -> bool:
    """Whether the grant ``patterns`` (with ``wild`` = resources granted as ``resource:*``) cover it."""
    if ALL in patterns or permission in patterns or permission == AUTHENTICATED:
        return True
    resource, _, action = permission.partition(":")
    return resource in wild and _PERMISSION.fullmatch(permission) is not None and action != ""


def _wild(patterns: Iterable[str]) -> frozenset[str]:
    return frozenset(p[:-2] for p in patterns if p.endswith(":*") and _PERMISSION.fullmatch(p))


def narrow(granted: frozenset[str], limit: frozenset[str]) -> frozenset[str]:
    """The patterns granting exactly what both ``granted`` and ``limit`` grant.

    Wildcard patterns form a tree (``*`` > ``r:*`` > ``r:a``), so two patterns' grants are nested or
    disjoint and the intersection is the union of the narrower member of each overlapping pair.
    """
    granted_wild, limit_wild = _wild(granted), _wild(limit)
    return frozenset(
        [p for p in granted if covered(limit, limit_wild, p)] + [p for p in limit if covered(granted, granted_wild, p)]
    )


class Matcher:
    """The compiled grants of one role set (plus direct permissions, narrowed by a limit).

    ``matcher(permission)`` is a single dict lookup once a permission has been asked about: decisions
    are memoised (required permissions come from code and config, a small fixed vocabulary; the
    memo is bounded regardless). ``permissions`` is the read-only view Starlette's ``@requires`` sees.
    """

    __slots__ = ("_memo", "_wild", "granted", "permissions")

    def __init__(self, granted: frozenset[str]) -> None:
        self.granted = granted
        self._wild = _wild(granted)
        self._memo: Memo[str, bool] = Memo(_MEMO_LIMIT)
        self.permissions = PermissionSet(granted, check=self)

    def credentials(self) -> GuardCredentials:
        """Fresh ``scope["auth"]`` credentials over the shared, read-only permission view (an app
        assigning ``request.auth.scopes`` then changes its own request only)."""
        return GuardCredentials(self.permissions)

    def __call__(self, permission: str) -> bool:
        decision = self._memo.get(permission)
        if decision is None:
            decision = covered(self.granted, self._wild, permission)
            self._memo.put(permission, decision)
        return decision

    def allows(self, permissions: tuple[str, ...], any_of: bool = False) -> bool:
        """All of ``permissions`` (or at least one, with ``any_of``) are granted; ``()`` is always true."""
        memo = self._memo
        if any_of:
            for permission in permissions:
                if memo.get(permission) or self(permission):
                    return True
            return not permissions
        for permission in permissions:
            # The memo first, inline: a known answer costs no call (a miss computes and remembers it).
            decision = memo.get(permission)
            if decision is None:
                decision = self(permission)
            if not decision:
                return False
        return True

    def __repr__(self) -> str:
        return f"Matcher({sorted(self.granted)!r})"


__all__ = (
    "ALL",
    "AUTHENTICATED",
    "Matcher",
    "check_permission",
    "check_requirement",
    "covered",
    "is_permission",
    "narrow",
)
