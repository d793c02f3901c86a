"""``python -m asgi_guard``: the demo really serves, and the sub-commands dispatch."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from asgi_guard.cli import main
from tests.redis_servers import RedisServer
from tests.servers import free_port


def test_help_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` prints usage and succeeds; an unknown command exits 2."""
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main([]) == 2
    assert main(["nope"]) == 2


def test_keys_new_dispatches(capsys: pytest.CaptureFixture[str]) -> None:
    """`keys new` prints a fresh key once."""
    assert main(["keys", "new", "--name", "ci"]) == 0
    assert "wa-" in capsys.readouterr().out


def _serve(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "asgi_guard", "demo", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_ready(process: subprocess.Popen[str], base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the demo did not start within 30 s")


@pytest.mark.server
@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_demo_serves_and_printed_credentials_work(backend: str, fault_redis: RedisServer) -> None:
    """`python -m asgi_guard demo` serves on the given port and prints a token that works (memory or --redis)."""
    args = ["--redis", fault_redis.url, "--memory"] if backend == "redis" else ["--memory"]
    process, base = _serve(args)
    try:
        _wait_ready(process, base)
        assert process.stdout is not None
        exports: dict[str, str] = {}
        while "API_KEY" not in exports:
            line = process.stdout.readline()
            assert line, "the demo's banner ended before the exports"
            if line.startswith("export "):
                name, value = line[len("export ") :].strip().split("=", 1)
                exports[name] = value.strip("'")
        anonymous = httpx.get(f"{base}/api/v1/profile", timeout=5)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        user = httpx.get(f"{base}/api/v1/profile", headers={"Authorization": f"Bearer {exports['USER_TOKEN']}"})
        assert user.status_code == 200
        assert user.headers["x-ratelimit-limit"]
        keyed = httpx.get(f"{base}/api/v1/profile", headers={"X-API-Key": exports["API_KEY"]})
        assert keyed.status_code == 200
    finally:
        process.terminate()
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=10)


def test_token_issue_dispatches(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`token issue` prints a token signed with the secret from the environment."""
    monkeypatch.setenv("ASGI_GUARD_JWT_SECRET", "s" * 40)
    assert main(["token", "issue", "--sub", "u1", "--roles", "user"]) == 0
    assert capsys.readouterr().out.count(".") == 2
