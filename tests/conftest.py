"""Suite-wide fixtures: the anyio backend and suite-started Redis servers."""

from __future__ import annotations

import logging
import subprocess
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, settings
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from tests.redis_servers import REDIS_CLI, RedisCluster, RedisServer
from tests.timeouts import pytest_runtest_protocol  # noqa: F401  (the per-test ceiling hook)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

# Hypothesis judges behaviour, not speed: its default 200 ms per-example deadline and its too-slow
# health check are timing assertions that fail on a loaded 2-core machine (tests/timeouts.py bounds
# every test instead). Tests that pass their own settings keep them; unset fields come from here.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


@pytest.fixture(autouse=True)
def security_log_at_info() -> Iterator[None]:
    """The suite listens to the security log at INFO, as production runs it: events of allowed
    requests are built and recorded on the context. Tests of unheard events raise the level themselves."""
    logger = logging.getLogger("asgi_guard.security")
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(previous)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A standalone redis-server shared by the session (flushed per test through `redis_client`)."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def fault_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, for killing, pausing and restarting."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A 3-master Redis Cluster shared by the session."""
    cluster = RedisCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def fault_cluster() -> Iterator[RedisCluster]:
    """A 3-master Redis Cluster of the test's own, for killing and restarting its nodes."""
    cluster = RedisCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client of the shared standalone server, flushed before the test."""
    subprocess.run([REDIS_CLI, "-p", str(redis_server.port), "flushall"], capture_output=True, timeout=5, check=True)
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def cluster_client(redis_cluster: RedisCluster) -> AsyncIterator[AsyncRedisCluster]:
    """A cluster client of the shared 3-master cluster, flushed before the test."""
    redis_cluster.flush()
    client = AsyncRedisCluster.from_url(redis_cluster.url)
    await client.initialize()
    yield client
    await client.aclose()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop multiprocessing's resource tracker (the spawn tests start it) before pytest exits.

    Left alone, it outlives pytest and writes its coverage data while `coverage combine` already reads
    the data files: the run then ends with an unreadable leftover file and a CoverageWarning.
    """
    from multiprocessing import resource_tracker

    resource_tracker._resource_tracker._stop()  # CPython's own tests stop it this way; a no-op when not running
