"""asgi_guard works without the `sql` extra: imports, memory demo, and clear messages from the SQL commands."""

from __future__ import annotations

import subprocess
import sys

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sqlalchemy", "asyncpg", "aiosqlite", "alembic"):
            raise ImportError(f"{name} is blocked for this test")
        return None
sys.meta_path.insert(0, Block())
import asgi_guard
from asgi_guard import *  # noqa: F403
import asgi_guard.sealing, asgi_guard.provider_tokens, asgi_guard.auth.cli
from asgi_guard.demo import build_demo
build_demo()
from asgi_guard.cli import main
assert main(["db", "current", "--url", "sqlite:///x.db"]) == 2
assert main(["keys", "list", "--store", "sqlite:///x.db"]) == 2
print("ok")
"""


def test_everything_but_sql_works_without_the_extra() -> None:
    """Imports, sealing, provider tokens and the demo need no SQL package; SQL commands say what to install."""
    done = subprocess.run([sys.executable, "-c", BLOCK], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert "pip install 'asgi-guard[sql]'" in done.stderr
