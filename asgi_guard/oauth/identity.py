"""What a login yields: the provider's verified identity in, our user out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

import msgspec


class ProviderIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """The user as the provider vouches for them (after the id_token or profile call was checked).

    Attributes:
        provider: the provider's name (``twitch``, ``discord``, ...).
        subject: the provider's stable user id (id_token ``sub``, Discord ``id``, Helix ``id``).
        username: the login or handle, if the provider gives one.
        name: the display name.
        email: the email address, if granted.
        email_verified: whether the provider says it verified ``email``.
        team_id: the user's workspace (Slack), else "".
        scopes: the scopes the provider granted.
        claims: the raw id_token claims and profile members (for mappings of your own).
    """

    provider: str
    subject: str
    username: str = ""
    name: str = ""
    email: str = ""
    email_verified: bool = False
    team_id: str = ""
    scopes: tuple[str, ...] = ()
    claims: Mapping[str, Any] = msgspec.field(default_factory=dict)


class SessionUser(msgspec.Struct, frozen=True, kw_only=True):
    """Our user, as the login hook maps the identity: what the session token carries.

    Attributes:
        id: our user id (the ``sub`` of our tokens).
        username: shown in the session.
        email: carried in the session if given.
        roles: global roles.
        communities: community ids, or community id -> roles in it.
    """

    id: str
    username: str = ""
    email: str = ""
    roles: tuple[str, ...] = ()
    communities: tuple[str, ...] | Mapping[str, tuple[str, ...]] = ()


LoginHook: TypeAlias = Callable[[ProviderIdentity], Awaitable[SessionUser | None]]
"""Maps a verified provider identity to our user (create or update it); ``None`` refuses the login."""

__all__ = ("LoginHook", "ProviderIdentity", "SessionUser")
