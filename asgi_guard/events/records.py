"""Log records for security events, built without ``Logger.log``'s per-call work.

``logger.log`` walks the stack to find its caller (always the same line of the sink) and runs
``LogRecord.__init__``, which recomputes the file name, module and process name of every record.
That is most of what one security line costs before its handler writes it. A :class:`RecordMaker`
takes those from one record built the standard way (per level, per process) and fills in per
event only what changes: the message, the time and the thread (and the asyncio task, on the
Pythons whose records carry one). The record then goes through ``Logger.handle``, so the logger's
``disabled`` flag, filters, handlers and propagation behave exactly as for ``logger.log``.

Only while the record factory and the logger class are the standard ones
(:func:`standard_records`): an application that installs its own, to add fields, gets
``logger.log`` as before.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from time import time as _time
from typing import Final

_TASK_NAMES: Final = sys.version_info >= (3, 12)
"""Records carry ``taskName`` from Python 3.12 on."""


class _Generation:
    """Bumped in a forked child: its records need its own process id."""

    value = 0


def _forked() -> None:
    _Generation.value += 1


os.register_at_fork(after_in_child=_forked)


def standard_records(logger: logging.Logger) -> bool:
    """Whether ``logger.log`` would build a plain ``LogRecord`` (no custom factory or logger class)."""
    return type(logger) is logging.Logger and logging.getLogRecordFactory() is logging.LogRecord


class RecordMaker:
    """Builds the ``LogRecord`` of one message at one level of one logger, from a per-level template."""

    __slots__ = ("_generation", "_logger", "_templates")

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._templates: dict[int, logging.LogRecord] = {}
        self._generation = _Generation.value

    def make(self, level: int, message: str) -> logging.LogRecord:
        """The record ``logger.log(level, message)`` would build (its caller being this sink)."""
        if self._generation != _Generation.value:
            self._templates.clear()
            self._generation = _Generation.value
        template = self._templates.get(level)
        if template is None:
            template = self._templates[level] = self._template(level)
        record = logging.LogRecord.__new__(logging.LogRecord)
        record.__dict__ = fields = template.__dict__.copy()
        now = _time()
        fields["msg"] = message
        fields["created"] = now
        fields["msecs"] = now % 1.0 * 1000.0 // 1.0  # = int((now - int(now)) * 1000) + 0.0 for now > 0
        fields["relativeCreated"] = template.relativeCreated + (now - template.created) * 1000
        if template.thread is not None:
            fields["thread"] = threading.get_ident()
            fields["threadName"] = threading.current_thread().name
        if _TASK_NAMES and "taskName" in fields:  # pragma: no cover - Python 3.12+
            fields["taskName"] = _task_name()
        return record

    def _template(self, level: int) -> logging.LogRecord:
        logger = self._logger
        # The caller of the sink's ``make`` call, as ``logger.log`` from the sink would report it.
        path, line, function, _ = logger.findCaller(stacklevel=3)
        return logger.makeRecord(logger.name, level, path, line, "", (), None, function)


def _task_name() -> str | None:  # pragma: no cover - Python 3.12+
    """What Python 3.12+ records as ``taskName``: the current asyncio task's name, if any."""
    if not getattr(logging, "logAsyncioTasks", True):
        return None
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        task = asyncio.current_task()
    except Exception:  # no running loop
        return None
    return task.get_name() if task is not None else None


__all__ = ("RecordMaker", "standard_records")
