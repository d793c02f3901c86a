"""``python -m bench layers``: the per-layer micro-benchmarks of each capability, into bench/RESULTS.md.

Runs each ``bench/micro/<layer>.py`` in its own process (so imports and caches do not leak between
them) and records what it printed under one section of RESULTS.md, with the command that produced
it. Each script is short (seconds) and starts its own throwaway redis-server where it needs one.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.harness import report

SCRIPTS = ("auth", "rbac", "ratelimit", "webhooks", "validation")


def run_script(name: str) -> str:
    """The output of ``python -m bench.micro.<name>`` (stderr included when it fails)."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.micro.{name}"], capture_output=True, text=True, timeout=600, check=False
    )
    text = done.stdout.strip()
    if done.returncode != 0:
        text += f"\n(exit {done.returncode})\n{done.stderr.strip()[-2000:]}"
    return text


def main() -> int:
    parts = [
        "## Per-layer micro-benchmarks (`python -m bench layers`)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; each script's own output, in-process, µs per call.",
        "",
    ]
    for name in SCRIPTS:
        print(f"running bench.micro.{name}", flush=True)
        parts += [f"### `python -m bench.micro.{name}`", "", "```", run_script(name), "```", ""]
    report.replace_section("layers", "\n".join(parts))
    print(f"wrote {report.RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
