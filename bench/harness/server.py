"""Server benchmark: each stack under uvicorn (httptools, uvloop, one worker), loaded with ``wrk``.

All servers are started first, each on a free loopback port; then every round runs one bounded
``wrk`` per stack, in an order that rotates between rounds, so drift hits all alike. Reported:
req/s, p50, p99 (medians over rounds), the ratio to the bare app's req/s in the same round, and for
Redis stacks the ``INFO`` commandstats and read-event deltas divided by the requests wrk completed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from bench.harness.inproc import BASELINE, ROOT
from bench.harness.redis_count import delta, snapshot

if TYPE_CHECKING:
    from bench.harness.registry import Stack

_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerResult:
    """What wrk measured for one stack over the rounds."""

    stack: Stack
    samples: list[dict[str, float]] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    non_2xx: int = 0
    redis_commands: float | None = None
    redis_round_trips: float | None = None
    layers: list[str] = field(default_factory=list)
    error: str | None = None

    def median(self, key: str) -> float | None:
        values = [sample[key] for sample in self.samples if key in sample]
        return statistics.median(values) if values else None

    def median_ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None


class Server:
    """One uvicorn process serving one stack."""

    def __init__(self, stack: Stack, redis_url: str | None, *, workers: int = 1, cluster: bool = False) -> None:
        self.stack = stack
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-server-"))
        self.request_file = self.workdir / "request.json"
        self.log_path = self.workdir / "uvicorn.log"
        env = dict(os.environ)
        env.update(
            BENCH_STACK=stack.name,
            BENCH_REDIS_URL=redis_url or "",
            BENCH_CLUSTER="1" if cluster else "",
            BENCH_REQUEST_FILE=str(self.request_file),
            PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        )
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.harness.serve:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
            "--lifespan",
            "on",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-1500:].strip() if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait for the request file and a 200 to the stack's request; return the request."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {self.log_tail()}")
            if self.request_file.exists():
                try:
                    spec: dict[str, Any] = json.loads(self.request_file.read_text())
                    status = self.send(spec)
                except (OSError, ValueError):
                    time.sleep(0.1)
                    continue
                if status != 200:
                    raise RuntimeError(f"the stack's request got {status}, expected 200")
                return spec
            time.sleep(0.1)
        raise RuntimeError(f"uvicorn not ready within {timeout}s: {self.log_tail()}")

    def send(self, spec: dict[str, Any]) -> int:
        headers = {k: v for k, v in spec["headers"] if k.lower() not in ("host", "content-length")}
        body = spec["body"].encode("latin-1") if spec["body"] else None
        request = urllib.request.Request(  # noqa: S310 - an http:// loopback URL we built
            self.url + spec["path"], data=body, headers=headers, method=spec["method"]
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback only
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def wrk_script(spec: dict[str, Any], directory: Path) -> Path:
    """A wrk Lua script sending the stack's exact request (method, headers, body)."""
    lines = [f"wrk.method = {json.dumps(spec['method'])}"]
    for key, value in spec["headers"]:
        if key.lower() in ("host", "content-length"):
            continue
        lines.append(f"wrk.headers[{json.dumps(key)}] = {json.dumps(value)}")
    if spec["body"]:
        lines.append(f"wrk.body = {json.dumps(spec['body'])}")
    path = directory / "request.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def parse_wrk(output: str) -> dict[str, float]:
    """req/s, p50/p99 in ms, requests completed, and non-2xx from ``wrk --latency`` output."""
    out: dict[str, float] = {}
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        out["rps"] = float(match.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        if match := re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE):
            out[key] = float(match.group(1)) * _UNIT[match.group(2)]
    if match := re.search(r"(\d+) requests in", output):
        out["requests"] = float(match.group(1))
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    out["non_2xx"] = float(match.group(1)) if match else 0.0
    return out


def run_wrk(url: str, script: Path, *, duration: str, connections: int, threads: int) -> dict[str, float]:
    args = ["wrk", "--latency", f"-d{duration}", f"-c{connections}", f"-t{threads}", "-s", str(script), url]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stderr.strip()}")
    return parse_wrk(result.stdout)


def run(
    stacks: list[Stack],
    *,
    redis_url: str | None,
    repeats: int,
    duration: str,
    connections: int,
    threads: int,
    progress: Any = print,
) -> dict[str, ServerResult]:
    """Measure ``stacks`` under uvicorn with wrk, round-robin over ``repeats`` rounds."""
    results = {stack.name: ServerResult(stack) for stack in stacks}
    servers: dict[str, tuple[Server, Path, str]] = {}
    started: dict[str, Server] = {}
    info_client = redis.Redis.from_url(redis_url) if redis_url is not None else None
    try:
        for stack in stacks:
            started[stack.name] = Server(stack, redis_url)
        for name, server in started.items():
            try:
                spec = server.wait_ready()
            except RuntimeError as exc:
                errors = [line for line in str(exc).splitlines() if "startup failed" not in line]
                results[name].error = (errors[-1] if errors else str(exc))[:300]
                progress(f"  not available: {name}: {results[name].error}")
                server.stop()
                continue
            results[name].layers = list(spec.get("layers", []))
            servers[name] = (server, wrk_script(spec, server.workdir), server.url + spec["path"])
            run_wrk(servers[name][2], servers[name][1], duration="1s", connections=connections, threads=threads)

        names = list(servers)
        for round_index in range(repeats):
            order = names[round_index % len(names) :] + names[: round_index % len(names)] if names else []
            progress(f"  round {round_index + 1}/{repeats}")
            this_round: dict[str, float] = {}
            for name in order:
                _, script, url = servers[name]
                before = snapshot(info_client) if info_client is not None and results[name].stack.redis else None
                sample = run_wrk(url, script, duration=duration, connections=connections, threads=threads)
                if before is not None and info_client is not None and sample.get("requests"):
                    counts = delta(before, snapshot(info_client), int(sample["requests"]))
                    results[name].redis_commands = counts.commands
                    results[name].redis_round_trips = counts.round_trips
                results[name].samples.append(sample)
                results[name].non_2xx += int(sample.get("non_2xx", 0))
                this_round[name] = sample.get("rps", 0.0)
            if this_round.get(BASELINE):
                for name, rps in this_round.items():
                    results[name].ratios.append(rps / this_round[BASELINE])
    finally:
        for server in started.values():
            server.stop()
        if info_client is not None:
            info_client.close()
    return results


__all__ = ("ServerResult", "free_port", "parse_wrk", "run")
