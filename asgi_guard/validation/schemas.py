"""Ready-made request schemas for the community API's action-execute and moderation routes.

They double as examples of declaring constraints in types: every rule lives in an alias from
:mod:`asgi_guard.validation.types` or in ``__post_init__`` (whose ``ValueError`` msgspec reports
with the field path, like any other validation error).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

# msgspec resolves Struct annotations at runtime, so these aliases must be real module globals.
from asgi_guard.validation.types import (  # noqa: TC001
    ChatMessage,
    CommandName,
    DurationSeconds,
    ModerationReason,
    UserId,
)

CommandArg = Annotated[str, msgspec.Meta(max_length=500)]
"""One command argument."""


class ExecuteAction(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/v1/action/execute``: run a command on behalf of a user.

    Attributes:
        user_id: who the action runs for (``platform:number``).
        command: the command's name.
        args: the command's arguments (at most 20).
        message: an optional chat message to post, HTML stripped.
    """

    user_id: UserId
    command: CommandName
    args: Annotated[tuple[CommandArg, ...], msgspec.Meta(max_length=20)] = ()
    message: ChatMessage | None = None


ModerationKind = Literal["warn", "timeout", "ban", "unban", "delete_message"]


class ModerationAction(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/v1/communities/{community_id}/moderation``: act on a community member.

    Attributes:
        action: what to do.
        target_user_id: whom it is done to.
        reason: why, HTML stripped (shown to other moderators).
        duration_seconds: how long a ``timeout`` lasts (required for, and only for, timeouts).
    """

    action: ModerationKind
    target_user_id: UserId
    reason: ModerationReason = ""
    duration_seconds: DurationSeconds | None = None

    def __post_init__(self) -> None:
        if (self.action == "timeout") != (self.duration_seconds is not None):
            raise ValueError("Expected `duration_seconds` with, and only with, a `timeout`")


__all__ = ("CommandArg", "ExecuteAction", "ModerationAction", "ModerationKind")
