"""Redis revocation on the suite's 3-master Cluster: sharded pub/sub between two instances, zero
round trips per check, resync by SCAN of the owning master, a killed master (fail closed) and its
restart (recovery). Waits are bounded; the propagation time itself is measured by
``bench/revocation_propagation.py``, not asserted here."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.crc import key_slot
from redis.exceptions import RedisClusterException, SlotNotCoveredError

from asgi_guard.auth import RedisRevocationStore, RevocationUnavailable
from asgi_guard.auth.redis_revocation import cluster_names, hash_tag
from asgi_guard.errors import ConfigurationError
from tests.redis_servers import RedisCluster, RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

HOUR = 3600.0
PREFIX, CHANNEL = cluster_names("asgi_guard:revoked:", "asgi_guard:revocations")


async def _refused_within(store: RedisRevocationStore, token_id: str, limit: float = 2.0) -> bool:
    """Whether ``store`` refuses ``token_id`` within ``limit`` seconds (polled; a bound, not a timing)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await store.is_revoked([token_id]):
            return True
        await asyncio.sleep(0.002)
    return False


async def _client(cluster: RedisCluster) -> AsyncRedisCluster:
    client = AsyncRedisCluster.from_url(cluster.url)
    await client.initialize()
    return client


@pytest.fixture
async def cluster_pair(
    redis_cluster: RedisCluster, cluster_client: AsyncRedisCluster
) -> AsyncIterator[tuple[RedisRevocationStore, RedisRevocationStore]]:
    """Two instances, each with its own cluster client, on the shared cluster (flushed)."""
    clients = [await _client(redis_cluster) for _ in range(2)]
    stores = [RedisRevocationStore(client, reconnect_delay=0.05) for client in clients]
    for store in stores:
        await store.start()
        assert store.healthy
    yield stores[0], stores[1]
    for store in stores:
        await store.aclose()
    for client in clients:
        await client.aclose()


def test_cluster_names_share_one_slot() -> None:
    """The default names get one hash tag; a prefix's own tag is kept and given to the channel."""
    assert (PREFIX, CHANNEL) == ("{asgi_guard:revoked:}", "{asgi_guard:revoked:}asgi_guard:revocations")
    assert cluster_names("app:{rev}:", "{rev}:feed") == ("app:{rev}:", "{rev}:feed")
    assert cluster_names("app:{rev}:", "feed") == ("app:{rev}:", "{rev}feed")
    assert hash_tag("a{}b{c}") is None  # Redis: an empty first tag means the whole name is hashed
    assert hash_tag("a{b") is None


@given(prefix=st.text(max_size=20), channel=st.text(min_size=1, max_size=20), token=st.text(max_size=20))
def test_every_key_and_the_channel_hash_to_one_slot(prefix: str, channel: str, token: str) -> None:
    """Whatever the names, a revoked id, a used mark and the feed land in one slot (Redis's own CRC16),
    or the prefix is refused when it is empty or has braces without a usable tag."""
    try:
        tagged_prefix, tagged_channel = cluster_names(prefix, channel)
    except ConfigurationError:
        assert hash_tag(prefix) is None
        assert not prefix or "{" in prefix or "}" in prefix
        return
    names = (tagged_prefix + token, tagged_prefix + "used:" + token, tagged_channel)
    assert len({key_slot(name.encode("utf-8", "surrogatepass")) for name in names}) == 1
    if hash_tag(prefix) is not None:
        assert tagged_prefix == prefix  # a prefix's own tag is kept as written


async def test_prefix_with_unusable_braces_is_refused(cluster_client: AsyncRedisCluster) -> None:
    """A cluster store with a prefix such as ``a}b`` or ``{}x`` is a configuration error."""
    for prefix in ("a}b", "{}x", ""):
        with pytest.raises(ConfigurationError, match="hash tag"):
            RedisRevocationStore(cluster_client, prefix=prefix)


async def test_revocation_propagates_between_instances_on_cluster(
    cluster_pair: tuple[RedisRevocationStore, RedisRevocationStore],
) -> None:
    """A revocation through one instance reaches the other through SPUBLISH/SSUBSCRIBE, both ways."""
    a, b = cluster_pair
    assert (a.prefix, a.channel) == (PREFIX, CHANNEL)
    for index in range(5):
        await a.revoke(f"jti-{index}", time.time() + HOUR)
        assert await _refused_within(b, f"jti-{index}")
    await b.revoke("from-b", time.time() + HOUR)
    assert await _refused_within(a, "from-b")
    assert not await a.is_revoked(["never"])


async def _total_commands(nodes: list[aioredis.Redis]) -> int:
    total = 0
    for direct in nodes:
        stats = await direct.info("commandstats")
        total += sum(int(value["calls"]) for value in stats.values())
    return total


async def test_checks_cost_no_cluster_command(
    redis_cluster: RedisCluster, cluster_pair: tuple[RedisRevocationStore, RedisRevocationStore]
) -> None:
    """While the feed is healthy, checks are answered from memory: no command reaches any master."""
    _, b = cluster_pair
    nodes = [aioredis.Redis.from_url(node.url) for node in redis_cluster.nodes]
    try:
        before = await _total_commands(nodes)
        for index in range(1000):
            assert not await b.is_revoked([f"never-{index}", "fam"])
        after = await _total_commands(nodes)
    finally:
        for direct in nodes:
            await direct.aclose()
    assert after - before == len(nodes)  # the first INFO calls count themselves, nothing else ran


async def test_new_instance_loads_existing_revocations_from_the_owning_master(
    redis_cluster: RedisCluster, cluster_client: AsyncRedisCluster
) -> None:
    """A later instance loads the revoked set (more than one SCAN batch), not used marks or expired ids."""
    writer = RedisRevocationStore(cluster_client)
    now = time.time()
    async with cluster_client.pipeline(transaction=False) as pipe:
        for index in range(1500):
            pipe.set(f"{PREFIX}bulk-{index}", repr(now + HOUR), px=int(HOUR * 1000))
        await pipe.execute()
    await writer.revoke("kept", now + HOUR)
    assert await writer.claim_refresh("refresh-1", now + HOUR) is None
    assert await writer.claim_refresh("refresh-1", now + HOUR) is not None
    reader_client = await _client(redis_cluster)
    reader = RedisRevocationStore(reader_client)
    await reader.start()
    try:
        assert reader.healthy
        assert await reader.is_revoked(["kept"])
        assert await reader.is_revoked(["bulk-1499"])
        assert not await reader.is_revoked(["refresh-1", "used:refresh-1"])
        assert len(reader._revoked) == 1501
    finally:
        await reader.aclose()
        await reader_client.aclose()


async def test_dropped_shard_subscription_falls_back_then_resyncs(
    redis_cluster: RedisCluster, cluster_pair: tuple[RedisRevocationStore, RedisRevocationStore]
) -> None:
    """The owning master drops the subscriptions: direct lookups meanwhile (never trust), then a resync."""
    a, b = cluster_pair
    owner = aioredis.Redis.from_url(redis_cluster.master_of(CHANNEL).url)
    try:
        await owner.client_kill_filter(_type="pubsub")
    finally:
        await owner.aclose()
    assert await b.wait_for_state(healthy=False, timeout=5)
    await a.revoke("during-outage", time.time() + HOUR)  # published while b is not subscribed
    assert await b.is_revoked(["during-outage"])  # a direct lookup, or already resynced
    assert not await b.is_revoked(["other"])
    assert await b.wait_for_state(healthy=True, timeout=5)
    assert await b.is_revoked(["during-outage"])  # from memory
    await a.revoke("after-reconnect", time.time() + HOUR)
    assert await _refused_within(b, "after-reconnect")


async def _stores(cluster: RedisCluster, **kwargs: Any) -> tuple[list[AsyncRedisCluster], list[RedisRevocationStore]]:
    clients = [await _client(cluster) for _ in range(2)]
    stores = [RedisRevocationStore(client, reconnect_delay=0.05, lookup_timeout=0.2, **kwargs) for client in clients]
    for store in stores:
        await store.start(timeout=5)
    return clients, stores


async def _close(clients: list[AsyncRedisCluster], stores: list[RedisRevocationStore]) -> None:
    for store in stores:
        await store.aclose()
    for client in clients:
        await client.aclose()


async def test_owning_master_killed_fails_closed_then_recovers(fault_cluster: RedisCluster) -> None:
    """Killing the master that owns the revocation slot: checks fail closed (what is known stays
    refused, anything else is RevocationUnavailable); after its restart both instances resync and
    propagation resumes, with no restart of the stores."""
    clients, (a, b) = await _stores(fault_cluster)
    try:
        assert a.healthy
        assert b.healthy
        await a.revoke("before-crash", time.time() + HOUR)
        assert await _refused_within(b, "before-crash")
        owner: RedisServer = fault_cluster.master_of(CHANNEL)
        owner.kill()
        assert await b.wait_for_state(healthy=False, timeout=10)
        assert await b.is_revoked(["before-crash"])
        with pytest.raises(RevocationUnavailable):
            await b.is_revoked(["unknown"])
        owner.start()
        fault_cluster.wait_ok()
        assert await a.wait_for_state(healthy=True, timeout=20)
        assert await b.wait_for_state(healthy=True, timeout=20)
        assert await b.is_revoked(["before-crash"])  # the restarted master lost it; the mirror did not
        await a.revoke("after-restart", time.time() + HOUR)
        assert await _refused_within(b, "after-restart")
        assert not await b.is_revoked(["unknown"])
    finally:
        await _close(clients, stores=[a, b])


async def test_deny_mode_refuses_while_the_owning_master_is_down(fault_cluster: RedisCluster) -> None:
    """With on_feed_loss='deny' every check is refused while the shard is gone, and answered again after."""
    clients, (a, b) = await _stores(fault_cluster, on_feed_loss="deny")
    try:
        owner = fault_cluster.master_of(CHANNEL)
        owner.kill()
        assert await b.wait_for_state(healthy=False, timeout=10)
        with pytest.raises(RevocationUnavailable):
            await b.is_revoked(["anything"])
        owner.start()
        fault_cluster.wait_ok()
        assert await b.wait_for_state(healthy=True, timeout=20)
        assert not await b.is_revoked(["anything"])
    finally:
        await _close(clients, stores=[a, b])


async def test_another_master_killed_leaves_revocation_untouched(fault_cluster: RedisCluster) -> None:
    """A master that does not own the revocation slot going down changes nothing for revocation."""
    clients, (a, b) = await _stores(fault_cluster)
    try:
        owner = fault_cluster.master_of(CHANNEL)
        other = next(node for node in fault_cluster.nodes if node is not owner)
        other.kill()
        await a.revoke("while-other-down", time.time() + HOUR)
        assert await _refused_within(b, "while-other-down")
        assert a.healthy
        assert b.healthy
    finally:
        await _close(clients, stores=[a, b])


async def test_slot_moved_to_another_master_resubscribes_there(fault_cluster: RedisCluster) -> None:
    """The revocation slot is reassigned (CLUSTER SETSLOT ... NODE, as a resharding or failover ends):
    the old owner unsubscribes the feeds, and both instances subscribe again on the new owner."""
    clients, (a, b) = await _stores(fault_cluster)
    directs = {node.port: aioredis.Redis.from_url(node.url) for node in fault_cluster.nodes}
    try:
        owner = fault_cluster.master_of(CHANNEL)
        target = next(node for node in fault_cluster.nodes if node is not owner)
        slot = key_slot(CHANNEL.encode())
        target_id = (await directs[target.port].execute_command("CLUSTER", "MYID")).decode()
        ordered = [target, owner, *(node for node in fault_cluster.nodes if node not in (owner, target))]
        for node in ordered:  # the order the Redis manual gives for SETSLOT NODE
            await directs[node.port].execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        deadline = time.monotonic() + 10
        subscribers = 0
        while time.monotonic() < deadline and subscribers < 2:
            found = await directs[target.port].execute_command("PUBSUB", "SHARDNUMSUB", CHANNEL)
            subscribers = int(found[1])
            await asyncio.sleep(0.02)
        assert subscribers == 2
        assert await a.wait_for_state(healthy=True, timeout=10)
        assert await b.wait_for_state(healthy=True, timeout=10)
        await a.revoke("after-move", time.time() + HOUR)
        assert await _refused_within(b, "after-move")
        assert await directs[target.port].exists(PREFIX + "after-move")
    finally:
        for direct in directs.values():
            await direct.aclose()
        await _close(clients, stores=[a, b])


async def test_unreachable_cluster_fails_closed_and_the_feed_keeps_retrying() -> None:
    """No node reachable: the cluster client raises RedisClusterException (not a RedisError) from
    initialize(). The fallback lookup turns it into RevocationUnavailable (a 503, not a 500), and the
    feed treats it as a lost feed and retries instead of its task dying."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connections are refused at once
    client = AsyncRedisCluster(host="127.0.0.1", port=port)
    store = RedisRevocationStore(client, reconnect_delay=0.01)
    try:
        with pytest.raises(RevocationUnavailable) as refused:
            await store.is_revoked(["unknown"])
        assert type(refused.value.__cause__) is RedisClusterException
        await store.start(timeout=0.1)  # gives up waiting for the first sync; the feed goes on
        await asyncio.sleep(0.2)  # several reconnect rounds
        assert store._task is not None
        assert not store._task.done()
        assert not store.healthy
        with pytest.raises(RevocationUnavailable):
            await store.is_revoked(["unknown"])
    finally:
        await store.aclose()
        await client.aclose()


async def test_uncovered_revocation_slot_is_a_lost_feed_then_recovers(
    redis_cluster: RedisCluster, cluster_client: AsyncRedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cluster client says the revocation slot is not covered (SlotNotCoveredError, which is not a
    RedisError): the feed stays down and retries, checks fall back, and once the slot is served again
    the feed resubscribes and resyncs."""
    client = await _client(redis_cluster)
    store = RedisRevocationStore(client, reconnect_delay=0.01)
    await store.start()
    lookups = 0

    def uncovered(key: str, replica: bool = False) -> None:
        nonlocal lookups
        lookups += 1
        raise SlotNotCoveredError(f"Slot {key_slot(key.encode())} is not covered by the cluster.")

    try:
        assert store.healthy
        monkeypatch.setattr(client, "get_node_from_key", uncovered)
        owner = aioredis.Redis.from_url(redis_cluster.master_of(CHANNEL).url)
        try:
            await owner.client_kill_filter(_type="pubsub")
        finally:
            await owner.aclose()
        assert await store.wait_for_state(healthy=False, timeout=5)
        deadline = time.monotonic() + 5
        while lookups < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert lookups >= 3  # resubscription attempts, each refused by the uncovered slot
        assert store._task is not None
        assert not store._task.done()
        await cluster_client.set(PREFIX + "during-outage", repr(time.time() + HOUR))
        assert await store.is_revoked(["during-outage"])  # the fallback lookup
        monkeypatch.undo()
        assert await store.wait_for_state(healthy=True, timeout=5)
        assert await store.is_revoked(["during-outage"])  # resynced into memory
    finally:
        await store.aclose()
        await client.aclose()
