"""``python -m asgi_guard``: the demo really serves, and the sub-commands dispatch."""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import msgspec
import pytest

from asgi_guard import __version__
from asgi_guard.auth import APIKeyRecord, create_api_key, hash_api_key
from asgi_guard.cli import build_parser, main
from tests.redis_servers import RedisServer
from tests.servers import free_port


def test_help_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` prints usage and succeeds; an unknown command exits 2."""
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main([]) == 2
    assert main(["nope"]) == 2


def test_keys_new_dispatches(capsys: pytest.CaptureFixture[str]) -> None:
    """`keys new` prints a fresh key once."""
    assert main(["keys", "new", "--name", "ci"]) == 0
    assert "wa-" in capsys.readouterr().out


def _serve(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "asgi_guard", "demo", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_ready(process: subprocess.Popen[str], base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the demo did not start within 30 s")


@pytest.mark.server
@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_demo_serves_and_printed_credentials_work(backend: str, fault_redis: RedisServer) -> None:
    """`python -m asgi_guard demo` serves on the given port and prints a token that works (memory or --redis)."""
    args = ["--redis", fault_redis.url, "--memory"] if backend == "redis" else ["--memory"]
    process, base = _serve(args)
    try:
        _wait_ready(process, base)
        assert process.stdout is not None
        exports: dict[str, str] = {}
        while "API_KEY" not in exports:
            line = process.stdout.readline()
            assert line, "the demo's banner ended before the exports"
            if line.startswith("export "):
                name, value = line[len("export ") :].strip().split("=", 1)
                exports[name] = value.strip("'")
        anonymous = httpx.get(f"{base}/api/v1/profile", timeout=5)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        user = httpx.get(f"{base}/api/v1/profile", headers={"Authorization": f"Bearer {exports['USER_TOKEN']}"})
        assert user.status_code == 200
        assert user.headers["x-ratelimit-limit"]
        keyed = httpx.get(f"{base}/api/v1/profile", headers={"X-API-Key": exports["API_KEY"]})
        assert keyed.status_code == 200
    finally:
        process.terminate()
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=10)


def test_token_issue_dispatches(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`token issue` prints a token signed with the secret from the environment."""
    monkeypatch.setenv("ASGI_GUARD_JWT_SECRET", "s" * 40)
    assert main(["token", "issue", "--sub", "u1", "--roles", "user"]) == 0
    assert capsys.readouterr().out.count(".") == 2


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*path, name))
    return found


COMMANDS = [path for path, _ in _commands(build_parser())]


def test_every_command_and_option_has_plain_help_text() -> None:
    """Every command has a description and every option a help text, with no raw RST markup."""
    assert {"keys new", "keys add", "keys revoke", "keys list", "token issue", "db upgrade", "demo"} <= {
        " ".join(path) for path in COMMANDS
    }
    for path, parser in _commands(build_parser()):
        assert parser.description, path
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):  # each sub-command carries the help
                assert all(choice.help for choice in action._choices_actions), path
            else:
                assert action.help, (path, action.dest)
        text = parser.format_help()
        assert "``" not in text, path
        assert ":class:" not in text, path


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "top")
def test_help_exits_0_on_every_command(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` prints the command's usage and options and succeeds, at every level."""
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: asgi-guard {' '.join(path)}".rstrip())
    assert "--help" in out


def test_version_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """`--version` prints the package version; a missing sub-command is a usage error (2)."""
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"asgi-guard {__version__}"
    for argv in (["token"], ["keys"], ["db"], ["keys", "new", "--no-such-option"]):
        assert main(argv) == 2
        assert "usage: asgi-guard" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "issue", "--sub", "u1", "--roles", "moderator,superuser"], "unknown role 'superuser'"),
        (["token", "issue", "--sub", "u1", "--roles", "Admin"], "unknown role 'Admin'"),
        (["keys", "new", "--role", "root"], "unknown role 'root'"),
        (["keys", "new", "--permissions", "profile:view", "delete-everything"], "malformed permission"),
        (["keys", "new", "--permissions", "a:b:c"], "malformed permission"),
        (["keys", "new", "--role", "custom", "--extra-roles", "other"], "unknown role 'custom'"),
    ],
)
def test_unknown_roles_and_malformed_permissions_are_usage_errors(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Roles outside the hierarchy (and --extra-roles) and malformed permissions: exit 2, nothing printed."""
    monkeypatch.setenv("ASGI_GUARD_JWT_SECRET", "s" * 40)
    monkeypatch.delenv("ASGI_GUARD_KEY_STORE", raising=False)
    out = io.StringIO()
    assert main(argv, out) == 2
    assert out.getvalue() == ""
    err = capsys.readouterr().err
    assert message in err
    assert "known roles are" in err or "resource:action" in err


def test_extra_roles_and_key_roles_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API-key roles, the default hierarchy and roles named with --extra-roles are all accepted."""
    monkeypatch.setenv("ASGI_GUARD_JWT_SECRET", "s" * 40)
    monkeypatch.delenv("ASGI_GUARD_KEY_STORE", raising=False)
    for role in ("trigger", "action", "core", "admin", "community_owner", "moderator", "user"):
        assert main(["keys", "new", "--role", role, "--permissions", "a:b", "c:*", "*"], io.StringIO()) == 0
    assert main(["keys", "new", "--role", "editor", "--extra-roles", "editor,viewer"], io.StringIO()) == 0
    assert main(["token", "issue", "--sub", "u", "--roles", "viewer", "--extra-roles", "viewer"], io.StringIO()) == 0


def test_keys_new_says_how_to_load_the_record_and_keys_add_loads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --store, `keys new` says how to load its record (and that memory cannot be); the printed
    record given to `keys add --store` lands in the store; a record with an unknown role is refused."""
    monkeypatch.delenv("ASGI_GUARD_KEY_STORE", raising=False)
    out = io.StringIO()
    assert main(["keys", "new", "--role", "trigger", "--owner", "bot"], out) == 0
    hint = capsys.readouterr().err
    assert "keys add --store URL" in hint
    assert "in-memory" in hint
    key_line, record_line = out.getvalue().splitlines()
    key = key_line.rsplit(" ", 1)[1]
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    assert main(["keys", "add", "--store", url, record_line], io.StringIO()) == 0
    listed = io.StringIO()
    assert main(["keys", "list", "--store", url], listed) == 0
    (stored,) = [msgspec.json.decode(line, type=APIKeyRecord) for line in listed.getvalue().splitlines()]
    assert stored.key_hash == hash_api_key(key)
    assert stored.role == "trigger"
    stranger = APIKeyRecord(key_hash=hash_api_key(create_api_key()), owner_id="x", role="root")
    assert main(["keys", "add", "--store", url, msgspec.json.encode(stranger).decode()], io.StringIO()) == 2
    assert "unknown role 'root'" in capsys.readouterr().err


def _both_programs() -> list[list[str]]:
    script = Path(sys.executable).parent / "asgi-guard"
    assert script.is_file(), "the console script is installed next to the interpreter"
    return [[str(script)], [sys.executable, "-m", "asgi_guard"]]


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["token", "--help"], ["keys", "new", "--role", "nobody"], ["token"]],
    ids=["help", "version", "token-help", "bad-role", "no-subcommand"],
)
def test_console_script_and_module_behave_the_same(argv: list[str]) -> None:
    """`asgi-guard ...` and `python -m asgi_guard ...` print the same and exit with the same code."""
    env = {key: value for key, value in os.environ.items() if key != "ASGI_GUARD_KEY_STORE"}
    runs = [
        subprocess.run([*program, *argv], capture_output=True, text=True, timeout=60, check=False, env=env)
        for program in _both_programs()
    ]
    assert runs[0].returncode == runs[1].returncode
    assert runs[0].stdout == runs[1].stdout
    assert runs[0].stderr == runs[1].stderr
    assert runs[0].returncode == (0 if argv[-1] in ("--help", "--version") else 2)
    assert "Traceback" not in runs[0].stderr


def test_demo_refuses_a_busy_port_before_printing_anything() -> None:
    """A port someone else listens on: one error line, exit 2, no banner (no credentials printed)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "asgi_guard", "demo", "--memory", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert "--port" in line
