"""asgi_guard imports without the optional frameworks (the `demo` extra brings neither Litestar nor FastAPI)."""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("litestar", "fastapi"):
            raise ImportError(f"{name} is blocked for this test")
        return None
sys.meta_path.insert(0, Block())
import asgi_guard
from asgi_guard import *  # noqa: F403
from asgi_guard.demo import build_demo
build_demo()
try:
    asgi_guard.permission_guard
except ImportError:
    print("lazy")
"""


def test_import_and_demo_without_litestar_or_fastapi() -> None:
    """`import asgi_guard`, `from asgi_guard import *` and the demo work with Litestar and FastAPI absent."""
    done = subprocess.run([sys.executable, "-c", BLOCK], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lazy"


def test_permission_guard_is_still_importable_from_the_top() -> None:
    """With Litestar installed, `asgi_guard.permission_guard` is the Litestar guard factory."""
    import asgi_guard
    from asgi_guard.rbac.litestar import permission_guard

    assert asgi_guard.permission_guard is permission_guard


def test_unknown_top_level_attribute_is_an_attribute_error() -> None:
    """Any other missing name is a plain AttributeError."""
    import asgi_guard

    with pytest.raises(AttributeError, match="no_such_name"):
        asgi_guard.no_such_name  # noqa: B018 - the attribute access is the test
