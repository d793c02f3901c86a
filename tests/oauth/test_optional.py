"""asgi_guard works without the oauth extra; asgi_guard.oauth says which extra it needs."""

from __future__ import annotations

import subprocess
import sys

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("authlib", "httpx2", "joserfc"):
            raise ImportError(f"{name} is blocked for this test")
        return None
sys.meta_path.insert(0, Block())
import asgi_guard
from asgi_guard import *  # noqa: F403
import asgi_guard.provider_tokens, asgi_guard.sealing
assert not [name for name in sys.modules if name.startswith(("authlib", "asgi_guard.oauth"))]
try:
    import asgi_guard.oauth
except ImportError as exc:
    print(exc)
"""


def test_import_without_the_oauth_extra() -> None:
    """`import asgi_guard` never loads authlib; importing asgi_guard.oauth without it names the extra."""
    done = subprocess.run([sys.executable, "-c", BLOCK], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "pip install 'asgi-guard[oauth]'" in done.stdout
