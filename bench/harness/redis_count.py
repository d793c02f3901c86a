"""Counting what a stack asks of Redis: commands, round trips, and what ran inside scripts.

Two instruments, both server-side so no client library needs patching:

- ``INFO all`` before and after ``n`` requests: the ``commandstats`` delta gives commands per request
  (Redis counts commands run inside scripts there too) and ``total_reads_processed`` gives the
  client read events, i.e. round trips (a pipeline arrives in one read).
- ``MONITOR`` during a small sample: each line says whether a command came from a client or from a
  script (``[0 lua]``), which separates the client's commands from the commands inside scripts.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import redis

_OWN = frozenset({"info", "monitor", "echo", "ping", "client", "hello", "command"})
"""Commands the instruments (or connection handshakes) issue themselves: excluded from counts."""

_MONITOR_LINE = re.compile(r'^\+?[0-9.]+ \[\d+ (?P<source>[^\]]+)\] "(?P<command>[^"]+)"')


def snapshot(client: redis.Redis) -> dict[str, Any]:
    """``INFO all`` (one command, one read): take both snapshots on one connection so that a
    connection handshake does not count as the stack's round trips."""
    return dict(client.info("all"))


@dataclass
class Counts:
    """Redis work per request."""

    commands: float = 0.0
    round_trips: float = 0.0
    by_command: dict[str, float] = field(default_factory=dict)
    client_commands: float | None = None
    script_commands: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "commands": self.commands,
            "round_trips": self.round_trips,
            "by_command": self.by_command,
            "client_commands": self.client_commands,
            "script_commands": self.script_commands,
        }


def delta(before: dict[str, Any], after: dict[str, Any], requests: int) -> Counts:
    """Commands and round trips per request between two snapshots (the second INFO's read excluded)."""
    by_command: dict[str, float] = {}
    for key, stats in after.items():
        if not key.startswith("cmdstat_"):
            continue
        name = key[len("cmdstat_") :]
        if name.split("|")[0] in _OWN:
            continue
        calls = int(stats["calls"]) - int(before.get(key, {}).get("calls", 0))
        if calls:
            by_command[name] = calls / requests
    reads = int(after.get("total_reads_processed", 0)) - int(before.get("total_reads_processed", 0)) - 1
    return Counts(commands=sum(by_command.values()), round_trips=max(reads, 0) / requests, by_command=by_command)


class Monitor:
    """A ``MONITOR`` connection read in a thread until :meth:`stop`."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 6379
        self._sock = socket.create_connection((self._host, self._port), timeout=5)
        self._sock.sendall(b"MONITOR\r\n")
        self._buffer = b""
        self._lines: list[str] = []
        self._marker = f"bench-monitor-end-{time.monotonic_ns()}"
        first = self._read_line()
        if first != "+OK":
            raise RuntimeError(f"MONITOR refused: {first!r}")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _read_line(self) -> str:
        while b"\r\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("MONITOR connection closed")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def _run(self) -> None:
        try:
            while True:
                line = self._read_line()
                if self._marker in line:
                    return
                self._lines.append(line)
        except OSError:
            return

    def stop(self) -> list[tuple[str, str]]:
        """End the sample (an ``ECHO`` marker flushes it) and return ``(source, command)`` pairs."""
        client = redis.Redis(host=self._host, port=self._port)
        try:
            client.echo(self._marker)
        finally:
            client.close()
        self._thread.join(timeout=10)
        self._sock.close()
        out = []
        for line in self._lines:
            match = _MONITOR_LINE.match(line)
            if match:
                out.append((match["source"], match["command"].lower()))
        return out


def split_sample(sample: list[tuple[str, str]], requests: int) -> tuple[float, float, dict[str, int]]:
    """Client commands and script commands per request from a MONITOR sample."""
    client = Counter(cmd for source, cmd in sample if source != "lua" and cmd not in _OWN)
    script = Counter(cmd for source, cmd in sample if source == "lua")
    detail = {f"client:{k}": v for k, v in client.items()} | {f"lua:{k}": v for k, v in script.items()}
    return sum(client.values()) / requests, sum(script.values()) / requests, detail


__all__ = ("Counts", "Monitor", "delta", "snapshot", "split_sample")
