"""The hash-pinned lock that CI installs from still covers what pyproject.toml asks for."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)", re.MULTILINE)


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def _wanted(extras: tuple[str, ...]) -> list[Requirement]:
    """The requirements of the base package and ``extras``, following the package's own extras."""
    optional = PROJECT["optional-dependencies"]
    wanted = [Requirement(text) for text in PROJECT["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in optional[extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == canonicalize_name(PROJECT["name"]):
                todo.extend(requirement.extras)
            else:
                wanted.append(requirement)
    return wanted


def test_test_lock_pins_every_requirement_within_its_range() -> None:
    """Every requirement of the test and demo extras is pinned, at a version pyproject admits, with hashes."""
    pins = _pins("test.lock")
    for requirement in _wanted(("test", "demo")):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements/test.lock: run scripts/lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (requirement, pins[name])
    assert "--hash=sha256:" in (ROOT / "requirements" / "test.lock").read_text()


def test_demo_lock_pins_the_demo() -> None:
    """The container's lock has everything the demo extra needs, and nothing for tests."""
    pins = _pins("demo.lock")
    for requirement in _wanted(("demo",)):
        assert canonicalize_name(requirement.name) in pins, f"{requirement.name}: run scripts/lock"
    assert "pytest" not in pins
