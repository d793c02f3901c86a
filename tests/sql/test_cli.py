"""`python -m asgi_guard db ...` and `keys ... --store URL` against real SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import base64
import io
import secrets
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import asyncpg
import msgspec
import pytest

from asgi_guard.auth.api_keys import APIKeyRecord, create_api_key, hash_api_key
from asgi_guard.cli import main
from asgi_guard.provider_tokens import ProviderToken
from asgi_guard.sealing import SealingKeyRing
from asgi_guard.sql import SQLAPIKeyStore, SQLDatabase, SQLProviderTokenStore, grants
from asgi_guard.sql.schema import provider_tokens
from tests.redis_servers import REDIS_CLI
from tests.sql.conftest import PG_ADMIN, open_db

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tests.redis_servers import RedisServer

PG_BIN = "/usr/lib/postgresql/15/bin"
KEY_A, KEY_B = bytes(range(32)), bytes(range(100, 132))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def with_db(url: str, action: Callable[[SQLDatabase], Awaitable[Any]], *, fresh: bool = True) -> Any:
    """Run ``action`` on ``url``: emptied (PostgreSQL) or migrated (SQLite) first when ``fresh``."""

    async def run() -> Any:
        db = await open_db(url) if fresh else SQLDatabase(url)
        try:
            return await action(db)
        finally:
            await db.aclose()

    return asyncio.run(run())


def test_upgrade_and_current_on_a_fresh_sqlite_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """`db current` says none before, `db upgrade` migrates, `db current` then names the revision."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert main(["db", "current", "--url", url]) == 0
    assert "none" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", url]) == 0
    assert "0001" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", url]) == 0  # idempotent
    capsys.readouterr()
    assert main(["db", "current", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == "0001"


def test_current_on_postgresql_reads_the_url_from_the_environment(
    pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL may come from $ASGI_GUARD_DATABASE_URL (a password never needs to be on the command line)."""
    monkeypatch.setenv("ASGI_GUARD_DATABASE_URL", pg_url)
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == "0001"


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["db", "current"], 2, "give --url"),
        (["db", "current", "--url", "mysql://x/y"], 2, "postgresql://"),
        (["db", "current", "--url", "postgresql://u@db.example.com/x?sslmode=disable"], 2, "sslmode"),
        (["db", "current", "--url", "postgresql://postgres@127.0.0.1:1/x"], 1, "database unavailable"),
        (["db", "reseal", "--url", "sqlite:///x.db"], 2, "ASGI_GUARD_SEALING_KEYS"),
    ],
)
def test_db_errors_are_clear_exit_codes(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No URL, a foreign URL, plaintext to a remote host, a dead server, no keys: a message and an exit code."""
    monkeypatch.delenv("ASGI_GUARD_DATABASE_URL", raising=False)
    monkeypatch.delenv("ASGI_GUARD_SEALING_KEYS", raising=False)
    assert main(argv) == code
    assert message in capsys.readouterr().err


def test_grants_are_proven_on_the_real_server(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The printed grants let the app role read and write asgi_guard's tables and nothing else, and
    the read-only role only read them: each refusal is asserted by connecting as the role."""
    suffix = secrets.token_hex(4)
    app, readonly = f"guard_app_{suffix}", f"guard_ro_{suffix}"
    assert main(["db", "grants", "--app-role", app, "--readonly-role", readonly]) == 0
    sql = capsys.readouterr().out
    assert sql == grants(app, readonly)
    database = pg_url.rsplit("/", 1)[1]

    async def prove() -> None:
        admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}")
        try:
            await admin.execute(f"CREATE ROLE {app} LOGIN; CREATE ROLE {readonly} LOGIN")
            await admin.execute("CREATE TABLE IF NOT EXISTS not_ours (secret text); INSERT INTO not_ours VALUES ('x')")
            await admin.execute(sql)
            as_app = await asyncpg.connect(f"postgresql://{app}@127.0.0.1:5432/{database}")
            as_ro = await asyncpg.connect(f"postgresql://{readonly}@127.0.0.1:5432/{database}")
            try:
                await as_app.execute("INSERT INTO asgi_guard_revocations VALUES ('h', 1)")
                await as_app.execute("UPDATE asgi_guard_revocations SET expires_at = 2")
                assert await as_app.fetchval("SELECT count(*) FROM asgi_guard_revocations") == 1
                await as_app.execute("DELETE FROM asgi_guard_revocations")
                for statement in (
                    "CREATE TABLE evil (x int)",
                    "DROP TABLE asgi_guard_api_keys",
                    "ALTER TABLE asgi_guard_api_keys ADD COLUMN x int",
                    "TRUNCATE asgi_guard_api_keys",
                    "SELECT * FROM not_ours",
                    "UPDATE asgi_guard_alembic_version SET version_num = 'x'",
                    "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                ):
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await as_app.execute(statement)
                assert await as_ro.fetchval("SELECT count(*) FROM asgi_guard_api_keys") == 0
                for statement in (
                    "INSERT INTO asgi_guard_revocations VALUES ('h', 1)",
                    "UPDATE asgi_guard_api_keys SET revoked = true",
                    "DELETE FROM asgi_guard_provider_tokens",
                    "CREATE TABLE evil (x int)",
                    "SELECT * FROM not_ours",
                ):
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await as_ro.execute(statement)
            finally:
                await as_app.close()
                await as_ro.close()
            # The stores work as the app role.
            db = SQLDatabase(f"postgresql://{app}@127.0.0.1:5432/{database}")
            try:
                store = SQLAPIKeyStore(db)
                key_hash = hash_api_key(create_api_key())
                await store.put(APIKeyRecord(key_hash=key_hash, owner_id="o"))
                assert await store.revoke(key_hash)
            finally:
                await db.aclose()
        finally:
            await admin.execute("DROP TABLE IF EXISTS not_ours; DELETE FROM asgi_guard_api_keys")
            for role in (app, readonly):
                await admin.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")
            await admin.close()

    asyncio.run(prove())


def test_grants_quote_role_names() -> None:
    """A hostile role name is quoted as an identifier, not spliced into the SQL."""
    sql = grants('x"; DROP TABLE asgi_guard_api_keys; --')
    assert 'TO "x""; DROP TABLE asgi_guard_api_keys; --";' in sql


@pytest.mark.parametrize("keys_source", ["env", "file"])
def test_reseal_moves_every_secret_to_the_newest_key(
    sql_url: str, keys_source: str, tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a key is added, `db reseal` re-encrypts every row under it; values still open."""
    old = SealingKeyRing({"a": KEY_A}, current="a")
    tokens = [
        ProviderToken(user_id=f"user-{index}", provider="twitch", access_token=f"at-{index}", refresh_token=refresh)
        for index, refresh in enumerate(["rt-0", None, "rt-2"])
    ]

    async def seed(db: SQLDatabase) -> None:
        store = SQLProviderTokenStore(db, old)
        for token in tokens:
            await store.put(token)

    with_db(sql_url, seed)
    entries = f"a:{b64(KEY_A)}\nb:{b64(KEY_B)}\n"
    if keys_source == "env":
        monkeypatch.setenv("ASGI_GUARD_SEALING_KEYS", entries.replace("\n", ",").rstrip(","))
        argv = ["db", "reseal", "--url", sql_url]
    else:
        monkeypatch.delenv("ASGI_GUARD_SEALING_KEYS", raising=False)
        (tmp_path / "keys").write_text(entries)
        argv = ["db", "reseal", "--url", sql_url, "--keys-file", str(tmp_path / "keys")]
    assert main(argv) == 0
    assert "resealed 3 row(s) under key b" in capsys.readouterr().out
    assert main(argv) == 0
    assert "resealed 0 row(s)" in capsys.readouterr().out
    new_only = SealingKeyRing({"b": KEY_B}, current="b")

    async def check(db: SQLDatabase) -> None:
        store = SQLProviderTokenStore(db, new_only)
        for token in tokens:
            assert await store.get(token.user_id, token.provider) == token

    with_db(sql_url, check, fresh=False)
    # Keys that cannot open the rows: refused, nothing changed.
    monkeypatch.setenv("ASGI_GUARD_SEALING_KEYS", f"c:{SealingKeyRing.generate_key()}")
    assert main(["db", "reseal", "--url", sql_url]) == 1
    assert "does not open" in capsys.readouterr().err


def test_a_database_dump_reveals_no_secret(pg_url: str) -> None:
    """pg_dump of the database holds neither API keys, provider tokens, revoked ids nor a sealing key."""
    ring = SealingKeyRing({"a": KEY_A}, current="a")
    api_key = create_api_key()
    access, refresh, jti = f"at-{secrets.token_hex(8)}", f"rt-{secrets.token_hex(8)}", secrets.token_urlsafe(16)

    async def seed(db: SQLDatabase) -> None:
        await SQLAPIKeyStore(db).put(APIKeyRecord(key_hash=hash_api_key(api_key), owner_id="o", name="n"))
        await SQLProviderTokenStore(db, ring).put(
            ProviderToken(user_id="u", provider="discord", access_token=access, refresh_token=refresh)
        )
        from asgi_guard.sql import SQLRevocationStore

        await SQLRevocationStore(db).revoke(jti, 4_000_000_000.0)
        async with db.engine.connect() as connection:
            assert (await connection.execute(provider_tokens.select())).first() is not None

    with_db(pg_url, seed)
    dump = subprocess.run(
        [f"{PG_BIN}/pg_dump", "-h", "127.0.0.1", "-U", "postgres", pg_url.rsplit("/", 1)[1]],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "discord" in dump  # the dump did include the rows
    for secret in (api_key, access, refresh, jti, b64(KEY_A), KEY_A.hex()):
        assert secret not in dump


def store_url(kind: str, request: pytest.FixtureRequest) -> str:
    if kind == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        subprocess.run([REDIS_CLI, "-p", str(server.port), "flushall"], capture_output=True, timeout=5, check=True)
        return server.url
    if kind == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        with_db(url, lambda db: asyncio.sleep(0))  # empties the tables
        return url
    return f"sqlite:///{request.getfixturevalue('tmp_path') / 'keys.db'}"


@pytest.mark.parametrize("kind", ["redis", "sqlite", "postgresql"])
def test_keys_new_add_revoke_list_against_a_store(
    kind: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """keys new --store stores the record; add stores one from stdin; list shows both; revoke by hash or stdin."""
    url = store_url(kind, request)
    assert main(["keys", "new", "--store", url, "--name", "bot", "--owner", "o-1", "--role", "action"]) == 0
    printed = capsys.readouterr().out.splitlines()
    key = printed[0].rsplit(" ", 1)[1]
    first = msgspec.json.decode(printed[1], type=APIKeyRecord)
    assert first.key_hash == hash_api_key(key)
    other = APIKeyRecord(key_hash=hash_api_key(create_api_key()), owner_id="o-2", created_at=first.created_at + 1)
    monkeypatch.setattr(sys, "stdin", io.StringIO(msgspec.json.encode(other).decode()))
    assert main(["keys", "add", "--store", url]) == 0
    assert "stored" in capsys.readouterr().out
    assert main(["keys", "list", "--store", url]) == 0
    listed = [msgspec.json.decode(line, type=APIKeyRecord) for line in capsys.readouterr().out.splitlines()]
    assert [record.key_hash for record in listed] == [first.key_hash, other.key_hash]
    assert key not in str(listed)
    monkeypatch.setattr(sys, "stdin", io.StringIO(key + "\n"))
    assert main(["keys", "revoke", "--store", url, "--key-stdin"]) == 0
    monkeypatch.setenv("ASGI_GUARD_KEY_STORE", url)
    assert main(["keys", "revoke", other.key_hash]) == 0
    assert main(["keys", "revoke", "0" * 64]) == 1
    assert main(["keys", "list"]) == 0
    out = capsys.readouterr().out
    assert [msgspec.json.decode(line, type=APIKeyRecord).revoked for line in out.splitlines()[-2:]] == [True, True]


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["keys", "list"], "", "give --store"),
        (["keys", "list", "--store", "mysql://x"], "", "redis://"),
        (["keys", "add", "--store", "sqlite:///x.db"], "{not json", "not an API key record"),
        (["keys", "revoke", "--store", "sqlite:///x.db", "not-a-hash"], "", "SHA-256"),
        (["keys", "list", "--store", "postgresql://postgres@127.0.0.1:1/x"], "", "key store failed"),
        (["keys", "new", "--store", "postgresql://postgres@127.0.0.1:1/x"], "", "key store failed"),
    ],
)
def test_keys_store_errors(
    argv: list[str], stdin: str, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad or unreachable stores and bad input give a message and a non-zero exit code, no traceback."""
    monkeypatch.delenv("ASGI_GUARD_KEY_STORE", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(argv) != 0
    captured = capsys.readouterr()
    assert message in captured.err
    assert "API key (shown once" not in captured.out  # a key that could not be stored is never shown


def test_admin_url_is_reachable() -> None:
    """The suite's PostgreSQL answers (a failure here means the server is down: the suite fails, never skips)."""

    async def ping() -> int:
        connection = await asyncpg.connect(PG_ADMIN, timeout=5)
        try:
            value: int = await connection.fetchval("SELECT 1")
            return value
        finally:
            await connection.close()

    assert asyncio.run(ping()) == 1
