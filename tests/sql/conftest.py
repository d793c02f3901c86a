"""SQL fixtures: a throwaway PostgreSQL database per run (random name on 127.0.0.1:5432, created and
dropped here; unreachable -> the tests fail, never skip) and a SQLite file per test."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import asyncpg
import pytest

from asgi_guard.sql import SQLDatabase, upgrade
from asgi_guard.sql.schema import TABLES
from tests.pg_server import PostgresServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of a freshly created, migrated PostgreSQL database, dropped after the run."""
    import asyncio

    name = f"asgi_guard_test_{secrets.token_hex(6)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"

    async def migrate() -> None:
        db = SQLDatabase(url)
        await upgrade(db)
        await db.aclose()

    asyncio.run(migrate())
    yield url
    asyncio.run(_admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _empty(db: SQLDatabase) -> None:
    async with db.engine.begin() as connection:
        for table in TABLES:
            await connection.execute(table.delete())


async def open_db(url: str) -> SQLDatabase:
    """A handle on ``url``: the run's PostgreSQL database is emptied, a SQLite file is migrated."""
    db = SQLDatabase(url)
    if db.is_postgres:
        await _empty(db)
    else:
        await upgrade(db)
    return db


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[SQLDatabase]:
    """A handle on the run's PostgreSQL database, its tables emptied first."""
    db = await open_db(pg_url)
    yield db
    await db.aclose()


@pytest.fixture(scope="session")
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of the suite's own (TLS on), migrated, for stopping and starting: never the shared one."""
    import asyncio

    server = PostgresServer().init()

    async def migrate() -> None:
        db = SQLDatabase(server.url)
        await upgrade(db)
        await db.aclose()

    asyncio.run(migrate())
    yield server
    server.destroy()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'guard.db'}"


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[SQLDatabase]:
    """A migrated SQLite file of the test's own."""
    db = await open_db(sqlite_url)
    yield db
    await db.aclose()


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest) -> str:
    """Both SQL backends, in turn (sync, so parametrised fixtures can pick the URL)."""
    fixture = "pg_url" if request.param == "postgresql" else "sqlite_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def sql_db(sql_url: str) -> AsyncIterator[SQLDatabase]:
    """A handle on each SQL backend in turn."""
    db = await open_db(sql_url)
    yield db
    await db.aclose()
