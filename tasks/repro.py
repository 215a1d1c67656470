"""Run `dvc repro` as a unit of work, so a run started from the Prefect UI keeps DVC lineage."""

from __future__ import annotations

import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from tasks._prefect import logger, stage_task

# Lines of DVC's output kept for the error message of a failed run (the stage's own exception
# and DVC's "ERROR: ..." line come last).
_TAIL_LINES = 8


def dvc_repro(targets: Sequence[str] = (), force: bool = False, cwd: str | Path = ".") -> list[str]:
    """Run ``dvc repro [--force] [targets...]`` in `cwd`, streaming its output to the log.

    Returns the names of the stages DVC ran. Raises RuntimeError if DVC fails, with the last
    lines of its output (its "ERROR: ..." line among them), so a failed run's state says why.
    """
    dvc = Path(sys.executable).with_name("dvc")
    cmd = [str(dvc) if dvc.exists() else "dvc", "repro", *(["--force"] if force else []), *targets]
    log = logger()
    log.info("running: %s", " ".join(cmd))
    ran: list[str] = []
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    with subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            log.info("%s", line)
            if line.strip():
                tail.append(line)
            if line.startswith("Running stage '"):
                ran.append(line.split("'")[1])
    if proc.returncode != 0:
        output = "\n".join(tail) or "(no output)"
        raise RuntimeError(
            f"`{' '.join(cmd)}` failed with exit code {proc.returncode}; DVC said:\n{output}"
        )
    return ran


dvc_repro_task = stage_task(dvc_repro)
