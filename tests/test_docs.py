"""The documentation's Python examples run as written, page by page, in the order a reader meets them."""

from __future__ import annotations

import argparse
import logging
import re
import sys
import types
from pathlib import Path

import pytest

from asgi_guard.cli import build_parser

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


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, list[str]]]:
    """Every command of the CLI (``keys new``, ``db grants``, ...) with its long options."""
    found: list[tuple[str, list[str]]] = []
    for action in parser._actions:  # argparse has no public walk of its sub-commands
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*path, name))
    options = [option for action in parser._actions for option in action.option_strings if option.startswith("--")]
    if path and not any(isinstance(action, argparse._SubParsersAction) for action in parser._actions):
        found.append((" ".join(path), [option for option in options if option != "--help"]))
    return found


def test_cli_page_documents_every_command_and_option() -> None:
    """docs/cli.md keeps up with the parser: every command, and every option of each, is on the page."""
    page = (DOCS / "cli.md").read_text()
    commands = _commands(build_parser())
    assert len(commands) >= 10
    assert [name for name, _ in commands if f"`{name}`" not in page and f"`{name} " not in page] == []
    assert [(name, option) for name, options in commands for option in options if f"`{option}" not in page] == []
    assert "--version" in page
