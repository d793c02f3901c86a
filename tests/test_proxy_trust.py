"""Proxy trust is decided by ClientIPConfig alone, over a real uvicorn (issue 11 item 1).

The demo used to run uvicorn with its default ``proxy_headers=True``, which trusts loopback: a client
on 127.0.0.1 chose its own address with ``X-Forwarded-For`` (IP limits reset at will, any text
logged as ``client_ip``) and its scheme with ``X-Forwarded-Proto`` (HSTS over plain HTTP).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgi_guard import get_context, guard
from asgi_guard.cli import uvicorn_options
from asgi_guard.clientip import ClientIPConfig
from asgi_guard.events import EventsConfig
from asgi_guard.headers import SecurityHeadersConfig
from tests.servers import UvicornThread, free_port

FORGED = "attacker-chosen text"


def _start_demo() -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "asgi_guard", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "FORWARDED_ALLOW_IPS": "*"},  # must not matter either
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the demo did not start within 30 s")


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate(timeout=10)
    return output


@pytest.mark.server
def test_demo_ignores_forged_forwarded_headers_from_loopback() -> None:
    """Forged X-Forwarded-For/-Proto from 127.0.0.1 change nothing: a fresh forged address per request
    does not reset the per-address failure limit (20 bad tokens, then 429), the log has the real
    address (the forged text nowhere), and there is no HSTS over plain HTTP."""
    process, base = _start_demo()
    try:
        https = httpx.get(f"{base}/health", headers={"X-Forwarded-Proto": "https"}, timeout=5)
        statuses = []
        for number in range(24):
            forged = FORGED if number % 2 else f"203.0.113.{number}"
            headers = {"X-Forwarded-For": forged, "Authorization": f"Bearer bad-{number}"}
            statuses.append(httpx.get(f"{base}/api/v1/profile", headers=headers, timeout=5).status_code)
    finally:
        output = _stop(process)
    assert statuses == [401] * 20 + [429] * 4
    assert https.status_code == 200
    assert "strict-transport-security" not in https.headers
    assert FORGED not in output
    lines = [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("security {")]
    refusals = [event for event in map(msgspec.json.decode, lines) if event["action"] == "GET /api/v1/profile"]
    assert len(refusals) >= 24
    assert {event["client_ip"] for event in refusals} == {"127.0.0.1"}


def test_cli_runs_uvicorn_without_proxy_headers() -> None:
    """The options every asgi_guard command passes to uvicorn: no proxy headers, no trusted forwarder."""
    assert uvicorn_options() == {"proxy_headers": False, "forwarded_allow_ips": []}


@pytest.mark.server
def test_text_forwarded_by_a_trusting_uvicorn_is_a_placeholder() -> None:
    """Even under uvicorn's defaults (proxy_headers on, loopback trusted) a forged non-address
    X-Forwarded-For never becomes the client address or a log field: it is "invalid" plus an event."""
    events: list[Any] = []

    async def whoami(request: Request) -> PlainTextResponse:
        return PlainTextResponse(get_context(request).client_ip)

    app = guard(
        Starlette(routes=[Route("/whoami", whoami)]),
        EventsConfig(sinks=(events.append,)),
        ClientIPConfig(trusted_proxies=()),
        SecurityHeadersConfig.strict_api(),
    )
    with UvicornThread(app) as server:  # uvicorn's own defaults: proxy_headers=True
        forged = httpx.get(f"{server.url}/whoami", headers={"X-Forwarded-For": FORGED}, timeout=5)
    assert forged.text == "invalid"
    assert [(event.type, event.client_ip) for event in events] == [("client_ip_invalid", "invalid")]
    assert FORGED not in repr(events)


def test_every_documented_uvicorn_command_turns_proxy_headers_off() -> None:
    """The README, the examples and the docs never show a uvicorn command that would trust forwarded headers."""
    root = Path(__file__).resolve().parent.parent
    documents = [root / "README.md", *sorted((root / "examples").glob("*.py")), *sorted((root / "docs").rglob("*.md"))]
    commands = [
        (document.name, line)
        for document in documents
        for line in document.read_text(encoding="utf-8").splitlines()
        if re.search(r"(^|[\s`=])uvicorn (--|\S+:\S+)", line)
    ]
    assert len(commands) >= 4
    assert [command for command in commands if "--no-proxy-headers" not in command[1]] == []
