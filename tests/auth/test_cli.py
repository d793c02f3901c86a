"""CLI: `keys new` prints a working key once plus its record; `token issue` reads the secret from the environment."""

from __future__ import annotations

import io
import time

import msgspec
import pytest

from asgi_guard.auth import APIKeyRecord, JWTVerifier, KeyRing, hash_api_key, is_well_formed
from asgi_guard.auth.cli import SECRET_ENV
from asgi_guard.cli import main

SECRET = "c" * 32


def test_keys_new_prints_key_and_matching_record() -> None:
    """The printed key is well-formed and the printed record holds only its hash and the given fields."""
    out = io.StringIO()
    code = main(
        [
            "keys",
            "new",
            "--prefix",
            "svc",
            "--name",
            "deploy",
            "--owner",
            "bot-1",
            "--role",
            "trigger",
            "--permissions",
            "trigger:webhook,action:execute",
            "--communities",
            "c1",
            "--expires-in",
            "3600",
        ],
        out,
    )
    assert code == 0
    first, second = out.getvalue().splitlines()
    key = first.rsplit(" ", 1)[1]
    assert is_well_formed(key, "svc")
    record = msgspec.json.decode(second, type=APIKeyRecord)
    assert record.key_hash == hash_api_key(key)
    assert key not in second
    assert record.permissions == frozenset({"trigger:webhook", "action:execute"})
    assert record.role == "trigger"
    assert record.owner_id == "bot-1"
    assert record.communities == {"c1": frozenset()}
    assert record.expires_at is not None
    assert abs(record.expires_at - time.time() - 3600) < 60


def test_keys_new_defaults_and_bad_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    """Defaults give a `wa-` key that never expires; a bad prefix is an error exit."""
    out = io.StringIO()
    assert main(["keys", "new"], out) == 0
    record = msgspec.json.decode(out.getvalue().splitlines()[1], type=APIKeyRecord)
    assert record.expires_at is None
    assert main(["keys", "new", "--prefix", "BAD!"], io.StringIO()) == 2
    assert "prefix" in capsys.readouterr().err


def test_keys_new_writes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    """Without an explicit stream the key goes to standard output."""
    assert main(["keys", "new", "--name", "x"]) == 0
    assert "API key" in capsys.readouterr().out


def test_token_issue_signs_with_the_environment_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issued token verifies with the secret from ASGI_GUARD_JWT_SECRET and carries the given claims."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert (
        main(
            ["token", "issue", "--sub", "u1", "--roles", "moderator", "user", "--communities", "c1,c2", "--ttl", "7200"]
        )
        == 0
    )
    token = capsys.readouterr().out.strip()
    verified = JWTVerifier(KeyRing.single(SECRET)).verify(token)
    assert verified.principal.roles == frozenset({"moderator", "user"})
    assert set(verified.principal.communities) == {"c1", "c2"}
    assert verified.expires_at - verified.claims["iat"] == 7200


def test_token_issue_refuses_without_secret_or_with_bad_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No secret in the environment, a short secret or a bad TTL: error exit, nothing printed."""
    monkeypatch.delenv(SECRET_ENV, raising=False)
    assert main(["token", "issue", "--sub", "u1"], io.StringIO()) == 2
    assert SECRET_ENV in capsys.readouterr().err
    monkeypatch.setenv(SECRET_ENV, "short")
    out = io.StringIO()
    assert main(["token", "issue", "--sub", "u1"], out) == 2
    assert out.getvalue() == ""
    assert "short" not in capsys.readouterr().err
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert main(["token", "issue", "--sub", "u1", "--ttl", "60"], io.StringIO()) == 2


def test_token_issue_has_no_secret_option() -> None:
    """The secret cannot be passed on the command line: an unknown option is a usage error."""
    assert main(["token", "issue", "--sub", "u1", "--secret", SECRET], io.StringIO()) == 2
