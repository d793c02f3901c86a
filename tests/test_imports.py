"""The package's import graph: no cycle inside asgi_guard, and no config imports its middleware.

Every import counts, function-local ones included (a late import is how a cycle hides); only
imports under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import asgi_guard

PACKAGE = Path(asgi_guard.__file__).parent


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The asgi_guard modules ``name`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                out.update(alias.name for alias in child.names if alias.name in MODULES)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[: len(package) - child.level + 1]
                    module = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    module = child.module or ""
                for alias in child.names:
                    if f"{module}.{alias.name}" in MODULES:
                        out.add(f"{module}.{alias.name}")
                    elif module in MODULES:
                        out.add(module)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    # Importing `asgi_guard.events.emit` first runs `asgi_guard/events/__init__.py`: an edge to every
    # subpackage on the way (the root package imports everything by design and is left out).
    for target in list(out):
        parts = target.split(".")
        for depth in range(2, len(parts)):
            parent = ".".join(parts[:depth])
            if parent in MODULES and not name.startswith(parent + ".") and name != parent:
                out.add(parent)
    out.discard(name)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_analysis_sees_cycles() -> None:
    """The checker itself: a made-up cycle is found, a chain is not."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert "asgi_guard.events.middleware" in GRAPH["asgi_guard.compose"]
    late = _imports("late", _write_late_import())
    # A function-local import counts (with the subpackage it runs), a TYPE_CHECKING one does not.
    assert late == {"asgi_guard.events.emit", "asgi_guard.events"}


def _write_late_import() -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "late.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from asgi_guard.context import GuardContext\n"
        "def f():\n    from asgi_guard.events.emit import emit\n",
        encoding="utf-8",
    )
    return path


def test_no_import_cycle_inside_asgi_guard() -> None:
    """No module reaches itself through imports (late, function-local imports included)."""
    assert _cycles(GRAPH) == []


def test_no_config_imports_a_middleware() -> None:
    """Configs are data: compose.py assembles them with their middlewares."""
    configs = [name for name in MODULES if name.endswith(".config") or name == "asgi_guard.clientip"]
    assert "asgi_guard.ratelimit.config" in configs
    for name in configs:
        reached = {target for target in GRAPH[name] if target.endswith(".middleware")}
        assert not reached, f"{name} imports {sorted(reached)}"
    assert {"asgi_guard.ratelimit.middleware", "asgi_guard.auth.middleware"} <= GRAPH["asgi_guard.compose"]


def test_each_config_module_imports_first_in_a_fresh_interpreter() -> None:
    """Importing any config module first (before asgi_guard itself has loaded) works."""
    configs = sorted(name for name in MODULES if name.endswith(".config"))
    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    for name in configs:
        done = subprocess.run([sys.executable, "-c", script, name], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"


def test_shared_options_are_checked_the_same_everywhere() -> None:
    """error_format and clock are declared once (asgi_guard.options): every config refuses the same way."""
    import pytest

    from asgi_guard import EventsConfig, Limit, RateLimitConfig, RBACConfig, TenancyConfig
    from asgi_guard.errors import ConfigurationError

    for build in (
        lambda **kw: RateLimitConfig(limits=(Limit(name="ip", rate="1/minute"),), **kw),
        lambda **kw: TenancyConfig(routes=("/c/{community_id}",), **kw),
        lambda **kw: RBACConfig(**kw),
    ):
        with pytest.raises(ConfigurationError, match=r"Expected `json` or `problem`, got 'xml'"):
            build(error_format="xml")
    for build in (
        lambda **kw: RateLimitConfig(limits=(Limit(name="ip", rate="1/minute"),), **kw),
        lambda **kw: EventsConfig(**kw),
    ):
        with pytest.raises(ConfigurationError, match="a Clock"):
            build(clock=object())
        with pytest.raises(ConfigurationError, match="a Clock"):  # requests call monotonic() too
            build(clock=type("WallOnly", (), {"time": lambda self: 0.0})())
