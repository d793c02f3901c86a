"""``python -m bench``: one command for the benchmarks; each subcommand runs one module as a script.

    python -m bench [run] [options]            # in-process + Redis counts + uvicorn/wrk; writes bench/RESULTS.md
    python -m bench layers                     # per-layer micro-benchmarks (bench/micro/) into RESULTS.md
    python -m bench profile NAME               # pyinstrument call tree of one registered stack
    python -m bench profile steps              # the full stack built up one layer at a time (CPU time)
    python -m bench profile layers [LAYER...]  # each middleware alone in front of a tiny app
    python -m bench profile floors [--write]   # each piece at its floor beside ours; the stack step by step
    python -m bench load [faults] [--cluster]  # uvicorn workers under load while Redis is killed/paused/restarted
    python -m bench load burst                 # 1,000 simultaneous connections to the demo on Redis
    python -m bench load revocation            # revocation propagation between instances
    python -m bench compare BEFORE [AFTER]     # profile steps on two source trees, alternated

Folders: ``harness/`` (registry, workers, server driver, Redis counts, report), ``stacks/`` (baselines,
peers, asgi_guard: every layer alone and the full stacks, measured by the same harness), ``micro/``,
``load/``, ``profiling/``.
"""

from __future__ import annotations

import runpy
import sys

COMMANDS = {
    "run": "bench.harness.run",
    "layers": "bench.micro.run",
    "profile": "bench.profiling.tree",
    "load": "bench.load.faults",
    "compare": "bench.profiling.compare",
}
"""Subcommand -> the module it runs (``profile`` and ``load`` take a kind first, see :data:`KINDS`)."""

KINDS = {
    "profile": {
        "steps": "bench.profiling.steps",
        "layers": "bench.profiling.layers",
        "floors": "bench.profiling.floors",
    },
    "load": {
        "faults": "bench.load.faults",
        "burst": "bench.load.burst",
        "revocation": "bench.load.revocation",
    },
}


def resolve(argv: list[str]) -> tuple[str, str, list[str]]:
    """``(module, program name, its arguments)`` for a command line (no subcommand: ``run``)."""
    if not argv or argv[0].startswith("-"):
        return COMMANDS["run"], "python -m bench", argv
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        raise SystemExit(f"python -m bench: unknown command {command!r}; one of {', '.join(COMMANDS)}")
    kinds = KINDS.get(command, {})
    if rest and rest[0] in kinds:
        return kinds[rest[0]], f"python -m bench {command} {rest[0]}", rest[1:]
    return COMMANDS[command], f"python -m bench {command}", rest


def main(argv: list[str] | None = None) -> None:
    module, program, rest = resolve(list(sys.argv[1:] if argv is None else argv))
    sys.argv = [program, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
