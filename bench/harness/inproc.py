"""In-process benchmark: µs per request, one worker process per stack, round-robin repeats.

Each round measures every stack once (the starting stack rotates between rounds) so that machine
drift hits all of them alike; medians are over rounds, and ratios are taken per round against the
bare app of that same round, then the median of those is reported.
"""

from __future__ import annotations

import json
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.harness.registry import Stack

ROOT = Path(__file__).resolve().parents[2]
BASELINE = "bare Starlette"


class WorkerError(RuntimeError):
    """A worker died or stopped answering."""


class Worker:
    """The controller's handle on one ``bench.harness.worker`` process."""

    def __init__(self, stack: Stack, redis_url: str | None, *, cluster: bool = False) -> None:
        self.stack = stack
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["BENCH_REDIS_URL"] = redis_url or ""
        env["BENCH_CLUSTER"] = "1" if cluster else ""
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.harness.worker", stack.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=ROOT,
            env=env,
        )
        self._selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self._selector.register(self.process.stdout, selectors.EVENT_READ)

    def read(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        if not self._selector.select(timeout):
            raise WorkerError(f"{self.stack.name}: no answer within {timeout}s")
        line = self.process.stdout.readline()
        if not line:
            self.log.seek(0)
            tail = self.log.read()[-1500:].decode("utf-8", "replace")
            raise WorkerError(f"{self.stack.name}: worker exited ({tail.strip()})")
        return dict(json.loads(line))

    def ask(self, command: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        self.process.stdin.flush()
        return self.read(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(b'{"cmd": "quit"}\n')
                self.process.stdin.close()
                self.process.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        self._selector.close()
        self.log.close()


@dataclass
class StackResult:
    """Everything measured for one stack."""

    stack: Stack
    layers: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    ns: dict[int, list[float]] = field(default_factory=dict)
    ratios: dict[int, list[float]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    redis: dict[str, Any] | None = None
    error: str | None = None

    def median_us(self, concurrency: int) -> float | None:
        values = self.ns.get(concurrency)
        return statistics.median(values) / 1000 if values else None

    def median_ratio(self, concurrency: int) -> float | None:
        values = self.ratios.get(concurrency)
        return statistics.median(values) if values else None


def run(
    stacks: list[Stack],
    *,
    redis_url: str | None,
    repeats: int,
    seconds: float,
    concurrencies: tuple[int, ...],
    redis_requests: int = 200,
    monitor_sample: int = 20,
    progress: Any = print,
) -> dict[str, StackResult]:
    """Measure ``stacks`` in process; returns a result per stack name (errors included)."""
    results = {stack.name: StackResult(stack) for stack in stacks}
    workers: dict[str, Worker] = {}
    try:
        for stack in stacks:
            workers[stack.name] = Worker(stack, redis_url)
        for name, worker in list(workers.items()):
            try:
                hello = worker.read(180.0)
            except WorkerError as exc:
                hello = {"ok": False, "error": str(exc)}
            if not hello.get("ok"):
                results[name].error = str(hello.get("error"))
                progress(f"  not available: {name}: {results[name].error}")
                worker.close()
                del workers[name]
                continue
            results[name].layers = list(hello["layers"])
            results[name].versions = dict(hello["versions"])

        sizes = {
            (name, c): int(worker.ask({"cmd": "calibrate", "c": c, "seconds": seconds})["n"])
            for name, worker in workers.items()
            for c in concurrencies
        }
        names = list(workers)
        for round_index in range(repeats):
            order = names[round_index % len(names) :] + names[: round_index % len(names)] if names else []
            progress(f"  round {round_index + 1}/{repeats}")
            for c in concurrencies:
                this_round: dict[str, float] = {}
                for name in order:
                    answer = workers[name].ask({"cmd": "measure", "n": sizes[name, c], "c": c})
                    this_round[name] = float(answer["ns"])
                    result = results[name]
                    result.ns.setdefault(c, []).append(this_round[name])
                    for status, count in answer["statuses"].items():
                        result.statuses[status] = result.statuses.get(status, 0) + int(count)
                if BASELINE in this_round:
                    for name, ns in this_round.items():
                        results[name].ratios.setdefault(c, []).append(ns / this_round[BASELINE])

        if redis_url is not None:
            for name, worker in workers.items():
                if results[name].stack.redis:
                    progress(f"  redis commands: {name}")
                    results[name].redis = worker.ask({"cmd": "redis", "n": redis_requests, "sample": monitor_sample})
    finally:
        for worker in workers.values():
            worker.close()
    return results


__all__ = ("BASELINE", "ROOT", "StackResult", "Worker", "WorkerError", "run")
