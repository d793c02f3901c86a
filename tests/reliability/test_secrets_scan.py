"""Secrets scan: no secret, token, key or signature a request carried ever shows up in what the
security logger wrote or in an error response."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import pytest

from asgi_guard.events import SECURITY_LOGGER
from tests.reliability.credentials import ADMIN_TOKEN, HOSTILE_TOKENS, VALID_TOKEN, parts, webhook_signature
from tests.reliability.driver import Outcome, exercise, terminal_app
from tests.reliability.hostile import HostileRequest
from tests.reliability.layers import LAYERS, ROUTES, active_layers, build_stack, valid_api_key

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.reliability

API_KEYS = ("wa-" + "0123456789abcdef" * 4, "wa-" + "f" * 64, "sk_live_" + "a1b2c3d4" * 4)
SIGNATURES = (webhook_signature(b'{"event": "x"}'), "sha256=" + webhook_signature(b"other"))


class Capture(logging.Handler):
    """Keeps every formatted record of the logger it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def security_log() -> Iterator[Capture]:
    """Everything ``asgi_guard.security`` logs during the test, at every level."""
    logger = logging.getLogger(SECURITY_LOGGER)
    handler = Capture()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


def secret_values() -> list[str]:
    """Every secret the requests below carry, and the configured secrets of every known layer."""
    values = [VALID_TOKEN, ADMIN_TOKEN, *HOSTILE_TOKENS, *API_KEYS, *SIGNATURES, valid_api_key()]
    for spec in LAYERS:
        values += spec.secrets
    found: set[str] = set()
    for value in values:
        found.update(piece for piece in parts(value) if len(piece) >= 12)
    return sorted(found)


def requests() -> Iterator[HostileRequest]:
    """Credentials in every place a client puts them, right and wrong, on every route."""
    body = b'{"event": "x"}'
    for path in ROUTES:
        for method in ("GET", "POST"):
            for token in (VALID_TOKEN, ADMIN_TOKEN, *HOSTILE_TOKENS):
                bearer = b"Bearer " + token.encode()
                yield HostileRequest(method, path, [(b"authorization", bearer)], [body])
                yield HostileRequest(method, path, [(b"authorization", bearer), (b"authorization", bearer)], [body])
                yield HostileRequest(method, path, [(b"cookie", b"session=" + token.encode())], [body])
                yield HostileRequest(method, path, [], [body], query_string=b"access_token=" + token.encode())
            for key in (*API_KEYS, valid_api_key()):
                yield HostileRequest(method, path, [(b"x-api-key", key.encode())], [body])
                yield HostileRequest(
                    method, path, [(b"x-api-key", key.encode()), (b"authorization", b"Bearer " + key.encode())], [body]
                )
            for signature in SIGNATURES:
                yield HostileRequest(method, path, [(b"x-webhook-signature", signature.encode())], [body])
                yield HostileRequest(
                    method,
                    path,
                    [(b"x-webhook-signature", signature.encode()), (b"x-webhook-signature", b"00")],
                    [body],
                )
            yield HostileRequest(method, path, [(b"content-type", b"application/json")], [VALID_TOKEN.encode()])


def leaks(texts: list[str], secrets: list[str]) -> list[tuple[str, str]]:
    return [(secret[:8] + "…", text[:120]) for text in texts for secret in secrets if secret in text]


def test_scanner_finds_a_planted_secret(security_log: Capture) -> None:
    """The scan is not vacuous: a secret written to the security logger is found."""
    logging.getLogger(SECURITY_LOGGER).warning("oops %s", VALID_TOKEN)
    assert leaks(security_log.lines, secret_values())


def test_no_secret_in_security_log_or_error_responses(security_log: Capture) -> None:
    """Across hostile requests carrying known tokens, keys and signatures, neither the security log
    nor any response (body or headers) contains one of them."""
    layers = active_layers()
    outcomes: list[Outcome] = []
    stack = build_stack(terminal_app(layers, outcomes), layers)
    responses: list[str] = []
    sent = 0
    with asyncio.Runner() as runner:
        for request in requests():
            outcome = runner.run(exercise(stack, request, outcomes))
            sent += 1
            responses.append(outcome.body.decode("utf-8", "replace"))
            if outcome.start is not None:
                responses += [value.decode("latin-1") for _, value in outcome.start.get("headers", [])]
            outcomes.clear()
    assert len(security_log.lines) >= sent, "the security log recorded less than one event per request"
    assert leaks(security_log.lines, secret_values()) == []
    assert leaks(responses, secret_values()) == []
