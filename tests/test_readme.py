"""The README's example runs as written and guards what it says it guards."""

from __future__ import annotations

import re
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
