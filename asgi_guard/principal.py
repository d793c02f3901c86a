"""Who is making the request, in a shape Starlette (and user code) already understands."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from starlette.authentication import AuthCredentials, BaseUser

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

EMPTY_COMMUNITIES: Final[Mapping[str, frozenset[str]]] = MappingProxyType({})
"""The shared default: read-only for real, so no principal can add a membership to every other one."""


class Principal(BaseUser):
    """An authenticated caller.

    Compatible with Starlette's ``BaseUser`` (``request.user.is_authenticated``, ``display_name``,
    ``identity``). Treat it as immutable: layers read it, only authentication builds it.

    Args:
        id: the stable subject id (JWT ``sub``, or the API key's owner id).
        username: a display name.
        roles: global role names.
        permissions: permissions granted directly, on top of what the roles grant.
        permission_limit: when set (API keys), the effective permissions are narrowed to this set:
            a key's permissions narrow, never widen, what its owner may do.
        communities: community id -> extra roles the principal holds in that community. Being a key
            of this mapping is what membership means.
        method: how the caller authenticated (``"jwt"``, ``"api_key"``, or a custom name).
        key_fingerprint: a short, non-reversible fingerprint of the credential, for logs.
        token_id: the JWT ``jti`` (``None`` for other methods).
        expires_at: when the credential expires (epoch seconds), if it does.
        claims: the verified claims or key record fields, read-only.
        ambient: the credential is one the browser attaches on its own (a session cookie), so a
            cross-site page can make the browser send it: the CSRF layer checks such requests.
    """

    __slots__ = (
        "ambient",
        "claims",
        "communities",
        "expires_at",
        "id",
        "key_fingerprint",
        "method",
        "permission_limit",
        "permissions",
        "roles",
        "token_id",
        "username",
    )

    def __init__(
        self,
        id: str,
        *,
        username: str = "",
        roles: frozenset[str] = frozenset(),
        permissions: frozenset[str] = frozenset(),
        permission_limit: frozenset[str] | None = None,
        communities: Mapping[str, frozenset[str]] = EMPTY_COMMUNITIES,
        method: str = "custom",
        key_fingerprint: str = "",
        token_id: str | None = None,
        expires_at: float | None = None,
        claims: Mapping[str, Any] | None = None,
        ambient: bool = False,
    ) -> None:
        self.id = id
        self.username = username or id
        self.roles = roles
        self.permissions = permissions
        self.permission_limit = permission_limit
        self.communities = communities
        self.method = method
        self.key_fingerprint = key_fingerprint
        self.token_id = token_id
        self.expires_at = expires_at
        self.claims: Mapping[str, Any] = claims if claims is not None else {}
        self.ambient = ambient

    def carried_by_cookie(self, method: str = "session") -> Principal:
        """This principal as authenticated by an ambient credential (a copy: verified principals are cached)."""
        return Principal(
            self.id,
            username=self.username,
            roles=self.roles,
            permissions=self.permissions,
            permission_limit=self.permission_limit,
            communities=self.communities,
            method=method,
            key_fingerprint=self.key_fingerprint,
            token_id=self.token_id,
            expires_at=self.expires_at,
            claims=self.claims,
            ambient=True,
        )

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username

    @property
    def identity(self) -> str:
        return self.id

    def is_member(self, community_id: str) -> bool:
        """Whether the principal belongs to ``community_id`` (per its own credential)."""
        return community_id in self.communities

    def __repr__(self) -> str:
        # Never includes claims: they may carry personal data.
        return f"Principal(id={self.id!r}, method={self.method!r}, roles={sorted(self.roles)!r})"


class PermissionSet:
    """A read-only container answering ``permission in granted`` through a compiled matcher.

    Starlette's ``@requires("community:moderate")`` checks ``scope in request.auth.scopes``: this
    object makes that check understand wildcards (``community:*``, ``*``) without listing them.
    """

    __slots__ = ("_check", "_granted")

    def __init__(self, granted: frozenset[str], check: Callable[[str], bool] | None = None) -> None:
        self._granted = granted
        self._check = check if check is not None else granted.__contains__

    def __contains__(self, permission: object) -> bool:
        return isinstance(permission, str) and self._check(permission)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._granted))

    def __len__(self) -> int:
        return len(self._granted)

    def __repr__(self) -> str:
        return f"PermissionSet({sorted(self._granted)!r})"


class GuardCredentials(AuthCredentials):
    """Starlette ``AuthCredentials`` whose ``scopes`` honour permission wildcards.

    ``expand`` (set by authentication) recomputes the credentials with extra roles: the tenancy
    layer uses it to add the roles held in the request's community. Given ``resolve`` instead of
    ``permissions``, the scopes are computed on first read: authentication and tenancy each set
    ``scope["auth"]`` and RBAC, when present, replaces it, so nobody pays for the ones never read.
    """

    def __init__(
        self,
        permissions: PermissionSet | None = None,
        expand: Callable[[frozenset[str]], GuardCredentials] | None = None,
        *,
        resolve: Callable[[], PermissionSet] | None = None,
    ) -> None:
        # No super().__init__(): all it does is set ``scopes``, which is ours (a property) here.
        if permissions is None and resolve is None:
            raise TypeError("GuardCredentials needs permissions or resolve")
        self._scopes = permissions
        self._resolve = resolve
        self.expand = expand

    @property  # type: ignore[override]  # duck-typed: only `in` is used
    def scopes(self) -> PermissionSet:
        found = self._scopes
        if found is None:
            assert self._resolve is not None  # noqa: S101 - one of the two is always given
            found = self._scopes = self._resolve()
            self._resolve = None
        return found

    @scopes.setter
    def scopes(self, value: PermissionSet) -> None:  # an app assigning ``request.auth.scopes``
        self._scopes = value
        self._resolve = None


__all__ = ("GuardCredentials", "PermissionSet", "Principal")
