"""What a `dvc repro` with nothing to do costs (target: under 2 s), after `make run`.

    .venv/bin/python bench/noop_repro.py [--runs 5]

Prints the median and the range of the wall times of `dvc repro` and `dvc status` in this
checkout, and fails if a run had something to do (then the figure would not be a no-op's).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    dvc = str(Path(sys.executable).with_name("dvc"))
    for name, cmd in (("dvc repro", [dvc, "repro"]), ("dvc status", [dvc, "status"])):
        seconds = []
        for _ in range(args.runs):
            wall, out = timed(cmd)
            if "Running stage" in out:
                raise SystemExit(f"{name} had work to do; run `make run` first:\n{out}")
            seconds.append(wall)
        print(
            f"{name} (nothing to do): median {statistics.median(seconds):.2f} s, "
            f"range {min(seconds):.2f}-{max(seconds):.2f} s over {args.runs} runs"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
