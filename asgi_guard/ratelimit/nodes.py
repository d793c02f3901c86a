"""Script calls written straight to the connections of the Redis nodes: one round trip per node.

On a Cluster, each node's share of a batch goes out on one of that node's connections, all nodes
at once. redis-py's ``ClusterPipeline`` is not used: on a connection error it retries up to ten
times, each time closing *every* node's connections (``aclose``, those other requests are reading
from included) and sleeping 250 ms, so under load one dead master takes the healthy ones down with
it; and a connection error it meets while reading (a pooled socket to a node that was restarted)
only fails that command, leaving the node's other dead sockets pooled for the next calls, one
failure each. Here a pooled connection whose server hung up is reconnected before use, a node's
failure fails only that node's calls, and redirections (``MOVED``, ``ASK``, ``TRYAGAIN``) are
retried through redis-py's ``execute_command``, which follows them and patches its slot map.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from redis.crc import key_slot
from redis.exceptions import AskError, ConnectionError, ResponseError, TryAgainError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from redis.asyncio import Redis
    from redis.asyncio.cluster import ClusterNode, RedisCluster
    from redis.asyncio.connection import AbstractConnection

    from asgi_guard.ratelimit.script import ScriptCall


async def roundtrip(connection: AbstractConnection, payload: bytes, count: int) -> list[Any]:
    """Write ``payload`` (``count`` RESP commands) in one go and read the replies; error replies are
    returned as values (the connection stays in sync), anything else propagates."""
    await connection.send_packed_command(payload, check_health=False)
    results: list[Any] = []
    for _ in range(count):
        try:
            results.append(await connection.read_response())
        except ResponseError as exc:
            results.append(exc)
    return results


async def _hung_up(connection: AbstractConnection) -> bool:
    """A pooled connection with unread data or at EOF (its server restarted): not safe to reuse."""
    probe = getattr(connection, "can_read", None) or connection.can_read_destructive  # renamed in redis-py 8
    try:
        return bool(await probe())
    except (ConnectionError, OSError):
        return True


async def node_roundtrip(node: ClusterNode, payload: bytes, count: int) -> list[Any]:
    """:func:`roundtrip` on one of ``node``'s pooled connections (reconnected first if it went stale)."""
    connection = node.acquire_connection()
    try:
        if connection.is_connected and await _hung_up(connection):
            await connection.disconnect()
        return await roundtrip(connection, payload, count)
    except BaseException:
        await connection.disconnect()  # possibly mid-reply: never hand it out again as is
        raise
    finally:
        node.release(connection)


async def standalone_roundtrip(client: Redis, payload: bytes, count: int) -> list[Any]:
    """:func:`roundtrip` on a connection of a standalone client's pool (reconnected first if it went
    stale: redis-py 8's pool hands out a connection at EOF when maintenance notifications are on)."""
    pool = client.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        if await _hung_up(connection):
            await connection.disconnect()
        return await roundtrip(connection, payload, count)
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        await pool.release(connection)


async def cluster_pipeline(client: RedisCluster, calls: Sequence[ScriptCall], mode: str, *, inline: bool) -> list[Any]:
    """The replies to ``calls`` (each within one slot), or the exception each one met."""
    manager = client.nodes_manager
    groups: dict[str, tuple[ClusterNode, list[int]]] = {}
    for index, call in enumerate(calls):
        node = manager.get_node_from_slot(key_slot(call.checks[0].key.encode()))
        groups.setdefault(node.name, (node, []))[1].append(index)
    results: list[Any] = [None] * len(calls)

    async def send(node: ClusterNode, indices: list[int]) -> None:
        payload = b"".join(calls[index].packed(mode, inline=inline) for index in indices)
        try:
            replies = await node_roundtrip(node, payload, len(indices))
        except Exception as exc:  # this node is down or stalled: its calls fail, the other nodes' stand
            replies = [exc] * len(indices)
        for index, reply in zip(indices, replies, strict=True):
            results[index] = reply

    await asyncio.gather(*(send(node, indices) for node, indices in groups.values()))
    for index, result in enumerate(results):
        if isinstance(result, AskError | TryAgainError):  # MovedError is an AskError
            try:
                results[index] = await client.execute_command(*calls[index].command(mode))
            except Exception as exc:
                results[index] = exc
    return results


__all__ = ("cluster_pipeline", "node_roundtrip", "roundtrip", "standalone_roundtrip")
