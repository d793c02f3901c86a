"""SQL fixtures: a throwaway PostgreSQL database per run (random name on 127.0.0.1:5432, created and
dropped here; unreachable -> the tests fail, never skip) and a SQLite file per test."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import asyncpg
import pytest

from asgi_guard.sql import SQLDatabase, upgrade
from asgi_guard.sql.schema import TABLES

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


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[SQLDatabase]:
    """A handle on the run's PostgreSQL database, its tables emptied first."""
    db = SQLDatabase(pg_url)
    await _empty(db)
    yield db
    await db.aclose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'guard.db'}"


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[SQLDatabase]:
    """A migrated SQLite file of the test's own."""
    db = SQLDatabase(sqlite_url)
    await upgrade(db)
    yield db
    await db.aclose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def sql_db(request: pytest.FixtureRequest) -> AsyncIterator[SQLDatabase]:
    """Both SQL backends, in turn."""
    db: SQLDatabase = request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_db")
    yield db
