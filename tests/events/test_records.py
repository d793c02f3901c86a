"""Security log records built from a template are the records ``logger.log`` would have built."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_guard.events import LoggingSink, SecurityEvent
from asgi_guard.events import records as records_module
from asgi_guard.events.records import RecordMaker, standard_records

EVENT = SecurityEvent(type="authn_success", result="allow", time=1.0, principal_id="u1", reason="50% off")
DENY = SecurityEvent(type="authn_failure", result="deny", time=2.0, reason="bad_signature")
TIMES = ("created", "msecs", "relativeCreated", "message", "asctime")  # times, and what formatters add


class Keep(logging.Handler):
    """Keeps every record it is handed, as the real handler would receive it."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, Keep]]:
    logger = logging.getLogger(f"tests.records.{time.monotonic_ns()}")
    keep = Keep()
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, keep
    logger.removeHandler(keep)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {key: value for key, value in vars(record).items() if key not in TIMES}


def test_a_record_has_every_field_of_the_standard_one(logger: tuple[logging.Logger, Keep]) -> None:
    """Same attributes and values as ``logger.log`` from the same place, times aside (which are current)."""
    log, keep = logger
    sink = LoggingSink(log)
    before = time.time()
    sink(EVENT)
    after = time.time()
    [fast] = keep.records
    # The standard record of the same line, for comparison: what the sink did before.
    message = fast.getMessage()
    standard = log.makeRecord(log.name, logging.INFO, fast.pathname, fast.lineno, message, (), None, fast.funcName)
    assert _fields(fast) == _fields(standard)
    assert fast.pathname.endswith(os.path.join("asgi_guard", "events", "sinks.py"))
    assert fast.funcName == "__call__"
    assert (fast.levelno, fast.levelname, fast.name) == (logging.INFO, "INFO", log.name)
    assert before <= fast.created <= after
    assert fast.msecs == int((fast.created - int(fast.created)) * 1000)
    assert fast.relativeCreated == pytest.approx(standard.relativeCreated, abs=1000)
    # The message is the JSON line itself: a '%' in a value is not a format directive.
    assert msgspec.json.decode(message, type=SecurityEvent) == EVENT
    assert fast.args == ()


def test_each_record_is_its_own(logger: tuple[logging.Logger, Keep]) -> None:
    """Two events give two records (the template is copied, never shared or changed)."""
    log, keep = logger
    sink = LoggingSink(log)
    sink(EVENT)
    sink(DENY)
    sink(EVENT)
    first, second, third = keep.records
    assert first is not third
    assert (first.levelno, second.levelno, third.levelno) == (logging.INFO, logging.WARNING, logging.INFO)
    assert first.getMessage() == third.getMessage() != second.getMessage()
    assert first.created <= second.created <= third.created


def test_the_thread_is_the_one_that_logged(logger: tuple[logging.Logger, Keep]) -> None:
    """The template was made on this thread; a record made on another names that one."""
    log, keep = logger
    sink = LoggingSink(log)
    sink(EVENT)
    worker = threading.Thread(target=sink, args=(EVENT,), name="event-worker")
    worker.start()
    worker.join()
    here, there = keep.records
    assert (here.thread, here.threadName) == (threading.get_ident(), threading.current_thread().name)
    assert there.threadName == "event-worker"
    assert there.thread == worker.ident


def test_filters_disabled_loggers_and_propagation_behave_as_for_logger_log(
    logger: tuple[logging.Logger, Keep],
) -> None:
    """The record goes through ``Logger.handle``: filters drop it, a disabled logger drops it,
    propagation carries it to the parent's handlers."""
    log, keep = logger
    sink = LoggingSink(log)
    log.addFilter(lambda record: "authn_failure" not in record.getMessage())
    sink(DENY)
    sink(EVENT)
    assert [record.levelno for record in keep.records] == [logging.INFO]
    log.disabled = True
    sink(EVENT)
    assert len(keep.records) == 1
    log.disabled = False

    parent_keep = Keep()
    parent = logging.getLogger(log.name.rsplit(".", 1)[0])
    parent.addHandler(parent_keep)
    log.propagate = True
    try:
        sink(EVENT)
    finally:
        parent.removeHandler(parent_keep)
    assert len(parent_keep.records) == 1
    assert parent_keep.records[0] is keep.records[-1]


def test_a_custom_record_factory_is_honoured(logger: tuple[logging.Logger, Keep]) -> None:
    """An application that adds fields through its own factory gets them: then ``logger.log`` runs."""
    log, keep = logger
    standard = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = standard(*args, **kwargs)
        record.tenant = "acme"
        return record

    logging.setLogRecordFactory(factory)
    try:
        assert not standard_records(log)
        LoggingSink(log)(EVENT)
    finally:
        logging.setLogRecordFactory(standard)
    [record] = keep.records
    assert record.tenant == "acme"
    assert msgspec.json.decode(record.getMessage(), type=SecurityEvent) == EVENT
    assert record.funcName == "__call__"


def test_a_custom_logger_class_is_honoured() -> None:
    """A logger of another class (one that adds context in ``makeRecord``, say) is used as it is."""

    class Tagged(logging.Logger):
        def makeRecord(self, *args: object, **kwargs: object) -> logging.LogRecord:  # type: ignore[override]
            record = super().makeRecord(*args, **kwargs)  # type: ignore[arg-type]
            record.tag = "tagged"
            return record

    log = Tagged("tests.records.tagged", logging.INFO)
    keep = Keep()
    log.addHandler(keep)
    assert not standard_records(log)
    LoggingSink(log)(EVENT)
    [record] = keep.records
    assert record.tag == "tagged"


def test_a_forked_child_rebuilds_its_templates(
    logger: tuple[logging.Logger, Keep], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a fork the child's records carry its own process id (templates are rebuilt)."""
    log, keep = logger
    maker = RecordMaker(log)
    first = maker.make(logging.INFO, "a")
    monkeypatch.setattr(os, "getpid", lambda: first.process + 1)
    assert maker.make(logging.INFO, "b").process == first.process  # same process: the template stays
    records_module._forked()  # what os.register_at_fork runs in a child
    assert maker.make(logging.INFO, "c").process == first.process + 1
    assert keep.records == []  # making is not logging


@given(st.floats(min_value=0.0, max_value=253402300799.0, allow_nan=False))
def test_milliseconds_are_computed_as_logging_computes_them(now: float) -> None:
    """``msecs`` from float arithmetic equals ``LogRecord``'s ``int((now - int(now)) * 1000) + 0.0``."""
    assert now % 1.0 * 1000.0 // 1.0 == int((now - int(now)) * 1000) + 0.0
