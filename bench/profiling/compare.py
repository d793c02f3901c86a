"""Before/after of bench/profiling/steps.py: two source trees, runs alternated, medians of the runs' medians.

Run: ``python -m bench compare BEFORE_TREE [AFTER_TREE] [--runs N]`` (AFTER defaults to this
checkout). BEFORE_TREE is a checkout of the older commit, e.g. ``git worktree add /tmp/before c4ebac3``
or ``mkdir /tmp/before && git archive c4ebac3 | tar -x -C /tmp/before``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(tree: Path) -> dict[str, float]:
    script = tree / "bench" / "profiling" / "steps.py"
    if script.resolve() != (HERE / "steps.py").resolve():
        script.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "steps.py", script)  # same measurement, that tree's asgi_guard
    out = subprocess.run([sys.executable, str(script), "--json", "--repeats", "5"], capture_output=True, check=True)
    return json.loads(out.stdout.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench compare", description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?", default=HERE.parents[1])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(args.runs):
        results["before"].append(run(args.before))
        results["after"].append(run(args.after))
    rows = list(results["before"][0])
    table = {side: {row: statistics.median(r[row] for r in runs) for row in rows} for side, runs in results.items()}
    print(f"{'stack':22s} {'before':>8s} {'step':>6s} {'x bare':>6s} | {'after':>7s} {'step':>6s} {'x bare':>6s}")
    previous = {"before": 0.0, "after": 0.0}
    for row in rows:
        cells = []
        for side in ("before", "after"):
            value = table[side][row]
            step = value - previous[side] if previous[side] else 0.0
            cells.append(f"{value:8.1f} {step:+6.1f} {value / table[side]['bare']:6.2f}")
            previous[side] = value
        print(f"{row:22s} {cells[0]} | {cells[1]}")


if __name__ == "__main__":
    main()
