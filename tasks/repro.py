"""Run `dvc repro` (or `dvc exp run -S ...` with params overrides) as a unit of work, so a run
started from the Prefect UI keeps DVC lineage: `dvc.lock` stays the record of every run.

Each stage's own flow run is tied to this task's run (`PARENT_TASK_RUN_ENV`, read by
`flows._stage.run_stage`), so the UI shows the stages under the pipeline run; afterwards
`publish_results` puts the metrics table and links to the figures on the run as artifacts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.runtime import task_run

from tasks._prefect import logger, stage_task

PARENT_TASK_RUN_ENV = "POSE3D_PARENT_TASK_RUN_ID"

# Lines of DVC's output kept for the error message of a failed run (the stage's own exception
# and DVC's "ERROR: ..." line come last).
_TAIL_LINES = 8


def _dvc() -> str:
    dvc = Path(sys.executable).with_name("dvc")
    return str(dvc) if dvc.exists() else "dvc"


def repro_command(
    targets: Sequence[str] = (), force: bool = False, overrides: Sequence[str] = ()
) -> list[str]:
    """``dvc repro [targets]``, or with overrides (``section.key=value``) ``dvc exp run -S k=v ...
    [targets]``: an experiment that DVC records (it needs a git commit) and applies to the
    workspace. `force` reruns the named stages only (``--force --single-item``), or every stage
    when none is named."""
    for item in overrides:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ValueError(f"params override {item!r}: expected section.key=value")
    head = ["exp", "run", *(f"-S{item}" for item in overrides)] if overrides else ["repro"]
    # forcing named stages reruns them, not everything upstream of them as well
    forced = ["--force", *(["--single-item"] if targets else [])] if force else []
    return [_dvc(), *head, *forced, *targets]


def dvc_repro(
    targets: Sequence[str] = (),
    force: bool = False,
    cwd: str | Path = ".",
    overrides: Sequence[str] = (),
) -> list[str]:
    """Run `repro_command` in `cwd`, streaming its output to the log.

    Returns the names of the stages DVC ran. Raises RuntimeError if DVC fails, with the last
    lines of its output (its "ERROR: ..." line among them), so a failed run's state says why.
    """
    cmd = repro_command(targets, force, overrides)
    log = logger()
    log.info("running: %s", " ".join(cmd))
    ran: list[str] = []
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    env = dict(os.environ)
    if task_run.id:
        env[PARENT_TASK_RUN_ENV] = str(task_run.id)
    with subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
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


def publish_results(cwd: str | Path = ".") -> int:
    """Artifacts of a pipeline run: ``dvc metrics show --md`` as a Markdown table, and a link to
    every figure of the outputs (``data/**/*.png``, as file URLs). Returns the number of links."""
    root = Path(cwd).resolve()
    shown = subprocess.run(
        [_dvc(), "metrics", "show", "--md"], cwd=root, capture_output=True, text=True
    )
    table = shown.stdout.strip() if shown.returncode == 0 else f"(dvc said: {shown.stderr.strip()})"
    create_markdown_artifact(
        key="pipeline-metrics",
        markdown=f"# Metrics\n\n{table or '(no metrics yet)'}\n",
        description="dvc metrics show, after the run",
    )
    figures = [  # the stages' own figures, not those of every ablation run
        f
        for f in sorted((root / "data").glob("*/**/*.png"))
        if not any(part.startswith("runs") for part in f.relative_to(root).parts)
    ]
    for figure in figures:
        rel = figure.relative_to(root)
        key = re.sub(r"[^a-z0-9]+", "-", str(rel.with_suffix("")).lower()).strip("-")
        create_link_artifact(
            key=key, link=figure.as_uri(), link_text=str(rel), description="figure"
        )
    return len(figures)


dvc_repro_task = stage_task(dvc_repro)
publish_results_task = stage_task(publish_results)
