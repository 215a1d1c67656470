"""What a `dvc repro` with nothing to do costs (target: under 2 s), after `make run`.

    .venv/bin/python bench/noop_repro.py [--runs 7] [--compare OTHER_CHECKOUT]

Prints the median and the range of the wall times of `dvc repro` and `dvc status` in this
checkout, and fails if a run had something to do (then the figure would not be a no-op's).
With `--compare`, another checkout that is up to date too (e.g. a `git worktree` of an older
commit after `dvc checkout`) is timed in the same run, alternating with this one, and the ratio
of the medians is printed: the machines here are too noisy to compare figures from two runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    if "Running stage" in out:
        raise SystemExit(f"{cwd}: `{' '.join(cmd[1:])}` had work to do; run `make run` first")
    return wall


def summary(seconds: list[float]) -> str:
    return (
        f"median {statistics.median(seconds):.2f} s, range {min(seconds):.2f}-{max(seconds):.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--compare", type=Path, help="another up-to-date checkout, timed alike")
    args = parser.parse_args()
    dvc = str(Path(sys.executable).with_name("dvc"))
    here = Path.cwd()
    checkouts = [here] + ([args.compare.resolve()] if args.compare else [])
    for name in ("repro", "status"):
        seconds: dict[Path, list[float]] = {c: [] for c in checkouts}
        for _ in range(args.runs):
            for checkout in checkouts:  # alternating, so both see the same machine
                seconds[checkout].append(timed([dvc, name], checkout))
        for checkout in checkouts:
            print(f"dvc {name} (nothing to do) in {checkout}: {summary(seconds[checkout])}")
        if args.compare:
            ratio = statistics.median(seconds[here]) / statistics.median(seconds[checkouts[1]])
            print(
                f"dvc {name}: this checkout / the other = {ratio:.2f} (medians, {args.runs} runs each)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
