"""The README's example runs as written and guards what it says it guards."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from asgi_guard import KeyRing, MemoryRevocationStore, TokenService

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parent.parent / "README.md"
SECRET = "readme-example-secret-of-32-bytes-or-more"


async def test_readme_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's wrapped app refuses a plain user and lets a community moderator through."""
    monkeypatch.setenv("ASGI_GUARD_JWT_SECRET", SECRET)
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README, on purpose
    tokens = TokenService(
        KeyRing.single(SECRET), MemoryRevocationStore(), issuer="https://id.example", audience="community-api"
    )
    moderator = tokens.issue_access("m1", roles=["user"], communities={"5": ["moderator"]})
    user = tokens.issue_access("u1", roles=["user"], communities=["5"])
    transport = httpx.ASGITransport(app=namespace["app"])  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        url = "/communities/5/moderation"
        allowed = await client.post(url, headers={"Authorization": f"Bearer {moderator}", "X-Community-ID": "5"})
        refused = await client.post(url, headers={"Authorization": f"Bearer {user}", "X-Community-ID": "5"})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json() == {"by": "m1"}
    assert refused.status_code == 403
    assert "x-ratelimit-limit" in refused.headers


def _readme_app() -> object:
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README, on purpose
    return namespace["app"]


def _token_recipe() -> list[str]:
    """The README's `token issue` line, as written, minus the `ASGI_GUARD_JWT_SECRET=...` the harness sets."""
    lines = [line for line in README.read_text().splitlines() if " token issue " in line and "python -m" in line]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0])
    assert words[0] == "ASGI_GUARD_JWT_SECRET=..."
    assert words[1:3] == ["python", "-m"]
    return [sys.executable, *words[2:]]


async def test_readme_token_recipe_is_accepted_by_the_readme_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's CLI token recipe, run as written, makes a token its own example app accepts (2xx)."""
    monkeypatch.setenv("ASGI_GUARD_JWT_SECRET", SECRET)
    app = _readme_app()
    command = _token_recipe()
    env = {"ASGI_GUARD_JWT_SECRET": SECRET, "PATH": "", "PYTHONPATH": str(README.parent)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/communities/5/moderation", headers={"Authorization": f"Bearer {token}", "X-Community-ID": "5"}
        )
    assert 200 <= response.status_code < 300, response.text
    assert response.json() == {"by": "mod-1"}


async def test_getting_started_token_recipe_is_accepted_by_its_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/getting-started.md: the CLI recipe under "Issue a token it accepts" gets a 2xx from the page's app."""
    monkeypatch.setenv("ASGI_GUARD_JWT_SECRET", SECRET)
    page = (README.parent / "docs" / "getting-started.md").read_text()
    namespace: dict[str, object] = {}
    code = re.findall(r"```python\n(.*?)```", page, re.DOTALL)[0]
    exec(compile(code, "getting-started.md", "exec"), namespace)  # noqa: S102 - our own docs, on purpose
    recipe = page.replace("\\\n", " ")
    lines = [line for line in recipe.splitlines() if line.startswith("python -m asgi_guard token issue ")]
    assert len(lines) == 1, lines
    command = [sys.executable, *shlex.split(lines[0])[1:]]
    env = {"ASGI_GUARD_JWT_SECRET": SECRET, "PATH": "", "PYTHONPATH": str(README.parent)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    transport = httpx.ASGITransport(app=namespace["app"])  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/communities/5/moderation", headers={"Authorization": f"Bearer {token}", "X-Community-ID": "5"}
        )
    assert 200 <= response.status_code < 300, response.text


def test_performance_figures_are_quoted_from_the_results_file() -> None:
    """Every figure of the README's performance table is one of bench/RESULTS.md (no stale claim)."""
    readme = README.read_text(encoding="utf-8")
    section = readme.split("## Performance", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| per request")]
    results = (README.parent / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    figures = [figure for row in rows for figure in re.findall(r"\d+\.\d+", row)]
    assert len(figures) >= 10
    assert [figure for figure in figures if figure not in results] == []
