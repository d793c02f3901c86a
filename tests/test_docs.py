"""The documentation's Python examples run as written, page by page, in the order a reader meets them."""

from __future__ import annotations

import logging
import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(path for path in DOCS.rglob("*.md") if "```python" in path.read_text())
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
SECRET = "docs-example-secret-of-32-bytes-or-more"


def test_pages_with_examples_exist() -> None:
    """The collection below is not empty by accident (a renamed folder would silently test nothing)."""
    assert DOCS / "getting-started.md" in PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(DOCS)))
def test_page_examples_run(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``python`` block of a page runs, top to bottom, in one namespace (later blocks build on earlier ones)."""
    monkeypatch.setenv("ASGI_GUARD_JWT_SECRET", SECRET)
    security_log = logging.getLogger("asgi_guard.security")  # pages add handlers: undo them after
    handlers, level = list(security_log.handlers), security_log.level
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")  # a real module: types resolve their annotations
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    blocks = BLOCK.findall(page.read_text())
    assert blocks
    try:
        for index, code in enumerate(blocks):
            exec(compile(code, f"{page.name}[{index}]", "exec"), namespace)  # noqa: S102 - our own docs, on purpose
    finally:
        security_log.handlers[:] = handlers
        security_log.setLevel(level)
