"""The demo on a database: SQLite by default-style file, keys made with the CLI survive restarts;
`--db postgresql://...` works and a key revoked through the CLI is refused by the running demo."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.sql.conftest import open_db
from tests.test_cli import _serve, _wait_ready

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.server


def cli(*argv: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "asgi_guard", *argv], input=stdin, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def new_key(store: str) -> str:
    out = cli("keys", "new", "--store", store, "--owner", "you", "--role", "user", "--permissions", "profile:view")
    return out.splitlines()[0].rsplit(" ", 1)[1]


SEEN: list[str] = []


def run_demo(db: str) -> tuple[subprocess.Popen[str], str, str]:
    """Start the demo on ``db``; returns (process, base URL, the demo's printed API key)."""
    process, base = _serve(["--db", db])
    _wait_ready(process, base)
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        assert line, "the banner ended before the API key"
        SEEN.append(line)
        if line.startswith("export API_KEY="):
            return process, base, line.split("=", 1)[1].strip().strip("'")


def stop(process: subprocess.Popen[str]) -> str:
    """Stop the demo; returns the rest of its output (read through the same buffered pipe as the banner)."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    assert process.stdout is not None
    with process.stdout:
        return process.stdout.read()


def profile(base: str, key: str) -> int:
    return httpx.get(f"{base}/api/v1/profile", headers={"X-API-Key": key}, timeout=5).status_code


def test_sqlite_keys_survive_restarts(tmp_path: Path) -> None:
    """A key made with `keys new --store sqlite:///...` works in the demo, and still works after a restart."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    mine = new_key(url)
    process, base, first_demo_key = run_demo(url)
    try:
        assert profile(base, mine) == 200
        assert profile(base, first_demo_key) == 200
    finally:
        banner = "".join(SEEN) + stop(process)
    process, base, _ = run_demo(url)
    try:
        assert profile(base, mine) == 200
        assert profile(base, first_demo_key) == 200  # the first run's key was stored too
    finally:
        stop(process)
    assert f"keys new --store '{url}'" in banner  # the banner says how to make a lasting key


def test_postgresql_demo_refuses_a_key_revoked_by_the_cli(pg_url: str) -> None:
    """`demo --db postgresql://...`: the CLI's revocation reaches the running demo (bounded wait)."""

    async def empty() -> None:
        await (await open_db(pg_url)).aclose()

    asyncio.run(empty())
    mine = new_key(pg_url)
    process, base, demo_key = run_demo(pg_url)
    try:
        assert profile(base, mine) == 200
        assert profile(base, demo_key) == 200
        cli("keys", "revoke", "--store", pg_url, "--key-stdin", stdin=mine + "\n")
        deadline = time.monotonic() + 5
        while profile(base, mine) != 401:
            assert time.monotonic() < deadline, "the revocation did not reach the demo"
            time.sleep(0.01)
        assert profile(base, demo_key) == 200
    finally:
        stop(process)
