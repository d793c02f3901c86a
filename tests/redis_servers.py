"""Throwaway ``redis-server`` processes for the suite: standalone and a 3-master Cluster.

Each server runs on a free loopback port in its own temporary directory, with persistence off. Tests
can kill, pause (SIGSTOP), resume and restart them. When a server cannot start, the fixture fails:
a Redis test never skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server") or "redis-server"
REDIS_CLI = shutil.which("redis-cli") or "redis-cli"


def free_port(*, cluster: bool = False) -> int:
    """A free loopback port (and, for cluster nodes, a free bus port at +10000)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port > 55000:
            continue
        if cluster:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free loopback port found")


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process that a test controls."""

    def __init__(self, port: int | None = None, *, cluster: bool = False) -> None:
        self.cluster = cluster
        self.port = port if port is not None else free_port(cluster=cluster)
        self.dir = Path(tempfile.mkdtemp(prefix=f"asgi-guard-redis-{self.port}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        args = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--protected-mode",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        if self.cluster:
            args += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--cluster-require-full-coverage",
                "no",
            ]
        try:
            self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise RuntimeError(f"redis-server not found ({REDIS_SERVER}); .ci/run installs it") from exc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.dir / "redis.log").read_text(errors="replace") if (self.dir / "redis.log").exists() else ""
                raise RuntimeError(f"redis-server on port {self.port} exited: {log[-2000:]}")
            if _ping(self.port):
                self.paused = False
                return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"redis-server on port {self.port} did not answer PING within {timeout}s")

    def kill(self) -> None:
        """SIGKILL: the server vanishes without a goodbye, like a crash."""
        if self.process is not None and self.process.poll() is None:
            if self.paused:
                os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (a stalled server)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False

    def restart(self) -> RedisServer:
        """Kill and start again on the same port: data and the script cache are gone. A cluster node
        keeps its ``nodes.conf`` (its identity and slots), as a real restart does, and rejoins."""
        self.kill()
        return self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisCluster:
    """Three cluster-enabled masters with all 16384 slots assigned, no replicas."""

    def __init__(self, masters: int = 3) -> None:
        self.nodes = [RedisServer(cluster=True) for _ in range(masters)]

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", node.port) for node in self.nodes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self, timeout: float = 30.0) -> RedisCluster:
        for node in self.nodes:
            node.start()
        cmd = [
            REDIS_CLI,
            "--cluster",
            "create",
            *[f"127.0.0.1:{n.port}" for n in self.nodes],
            "--cluster-replicas",
            "0",
            "--cluster-yes",
        ]
        result = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        if result.returncode != 0:
            self.stop()
            raise RuntimeError(
                f"redis-cli --cluster create failed: {result.stdout[-1000:]!r} {result.stderr[-1000:]!r}"
            )
        try:
            self.wait_ok(timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Block until every node reports ``cluster_state:ok`` (a restarted master holds back ~2 s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._state_ok(node.port) for node in self.nodes):
                return
            time.sleep(0.05)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    def master_of(self, key: str) -> RedisServer:
        """The node whose slots hold ``key`` (by the cluster's own ``CLUSTER KEYSLOT`` and ``CLUSTER NODES``)."""
        port = str(self.nodes[0].port)
        slot = int(
            subprocess.run([REDIS_CLI, "-p", port, "cluster", "keyslot", key], capture_output=True, timeout=5).stdout
        )
        table = subprocess.run([REDIS_CLI, "-p", port, "cluster", "nodes"], capture_output=True, timeout=5, text=True)
        for line in table.stdout.splitlines():
            fields = line.split()
            owner = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            for span in fields[8:]:
                low, _, high = span.partition("-")
                if not low.startswith("[") and int(low) <= slot <= int(high or low):
                    return next(node for node in self.nodes if node.port == owner)
        raise RuntimeError(f"no node holds slot {slot}")

    @staticmethod
    def _state_ok(port: int) -> bool:
        out = subprocess.run(
            [REDIS_CLI, "-p", str(port), "cluster", "info"], capture_output=True, timeout=5, check=False
        )
        return b"cluster_state:ok" in out.stdout

    def flush(self) -> None:
        for node in self.nodes:
            subprocess.run([REDIS_CLI, "-p", str(node.port), "flushall"], capture_output=True, timeout=5, check=False)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
