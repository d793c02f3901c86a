"""TLS to PostgreSQL: libpq-style options reach asyncpg; plaintext to a remote host is refused by default;
a real TLS server is verified (CA, host name) or refused."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import asyncpg
import pytest
from sqlalchemy import text

from asgi_guard.errors import ConfigurationError
from asgi_guard.sql import SQLAPIKeyStore, SQLDatabase
from asgi_guard.sql.database import normalise_url, tls_context

if TYPE_CHECKING:
    from tests.pg_server import PostgresServer

REMOTE = "postgresql://app:pw@db.example.com/guard"


def context(url: str, **options: bool) -> ssl.SSLContext | str | None:
    return tls_context(normalise_url(url), **options)


def test_remote_hosts_default_to_verify_full() -> None:
    """No sslmode on a non-loopback host: encrypted, certificate and host name checked."""
    made = context(REMOTE)
    assert isinstance(made, ssl.SSLContext)
    assert made.verify_mode is ssl.CERT_REQUIRED
    assert made.check_hostname


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_plaintext_to_a_remote_host_is_refused_unless_allowed(mode: str) -> None:
    """Modes that may send plaintext are a configuration error for a remote host, unless explicitly allowed."""
    with pytest.raises(ConfigurationError, match="non-loopback"):
        context(f"{REMOTE}?sslmode={mode}")
    with pytest.raises(ConfigurationError, match="non-loopback"):
        SQLDatabase(f"{REMOTE}?sslmode={mode}")
    assert context(f"{REMOTE}?sslmode={mode}", allow_plaintext=True) == mode


@pytest.mark.parametrize(
    "url", ["postgresql://u@127.0.0.1/x", "postgresql://u@localhost/x", "postgresql://u@[::1]/x", "postgresql:///x"]
)
def test_loopback_and_unix_sockets_may_be_plaintext(url: str) -> None:
    """Loopback hosts and Unix sockets default to libpq's `prefer`."""
    assert context(url) == "prefer"


def test_modes_map_to_contexts(own_postgres: PostgresServer) -> None:
    """require: encrypted only; require + rootcert and verify-ca: CA checked, host name not; verify-full: both."""
    ca = own_postgres.ca_file
    require = context(f"{REMOTE}?sslmode=require")
    assert isinstance(require, ssl.SSLContext)
    assert require.verify_mode is ssl.CERT_NONE
    for mode in ("require", "verify-ca"):
        made = context(f"{REMOTE}?sslmode={mode}&sslrootcert={ca}")
        assert isinstance(made, ssl.SSLContext)
        assert made.verify_mode is ssl.CERT_REQUIRED
        assert not made.check_hostname
    full = context(f"{REMOTE}?sslmode=verify-full&sslrootcert={ca}")
    assert isinstance(full, ssl.SSLContext)
    assert full.check_hostname


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ("sslmode=bogus", "sslmode"),
        ("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "sslrootcert"),
        ("sslmode=verify-full&sslcert=/nonexistent/c.pem&sslkey=/nonexistent/k.pem", "sslcert"),
    ],
)
def test_bad_tls_options_are_configuration_errors(query: str, match: str) -> None:
    """Unknown modes and unreadable certificate files fail at construction."""
    with pytest.raises(ConfigurationError, match=match):
        context(f"{REMOTE}?{query}")


def test_urls_are_normalised_and_the_password_is_never_shown() -> None:
    """Drivers are filled in; TLS options leave the URL for the driver; repr hides the password."""
    assert normalise_url("postgres://u@h/d").drivername == "postgresql+asyncpg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    for bad in ("mysql://u@h/d", "not a url"):
        with pytest.raises(ConfigurationError):
            normalise_url(bad)
    db = SQLDatabase(f"{REMOTE}?sslmode=require&application_name=guard")
    assert "pw" not in repr(db)
    assert "sslmode" not in str(db.url)
    assert db.url.query == {"application_name": "guard"}


async def ssl_in_use(db: SQLDatabase) -> bool:
    async with db.engine.connect() as connection:
        query = text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        return bool((await connection.execute(query)).scalar_one())


@pytest.mark.anyio
async def test_a_real_tls_connection_is_verified(own_postgres: PostgresServer) -> None:
    """Against a TLS server: verify-ca with its CA connects encrypted (pool and listener); verify-full
    to an address the certificate does not name, or without the CA, is refused."""
    base = f"postgresql://postgres@127.0.0.1:{own_postgres.port}/guard"
    ca = own_postgres.ca_file
    db = SQLDatabase(f"{base}?sslmode=verify-ca&sslrootcert={ca}")
    try:
        assert await ssl_in_use(db)
        store = SQLAPIKeyStore(db)
        assert await store.get("0" * 64) is None  # starts the listener, over TLS too
        assert db.feed.healthy
    finally:
        await db.aclose()
    for query in (f"sslmode=verify-full&sslrootcert={ca}", "sslmode=verify-full"):
        refused = SQLDatabase(f"{base}?{query}")
        try:
            with pytest.raises((ssl.SSLError, asyncpg.PostgresError, OSError)):
                await ssl_in_use(refused)
        finally:
            await refused.aclose()
    plain = SQLDatabase(f"{base}?sslmode=disable")
    try:
        assert not await ssl_in_use(plain)
    finally:
        await plain.aclose()
