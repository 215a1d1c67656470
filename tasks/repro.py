"""Run `dvc repro` (or, with params overrides, `dvc exp run --temp -S ...`) as a unit of work, so
a run started from the Prefect UI keeps DVC lineage: `dvc.lock` stays the record of every run,
and an experiment is recorded by DVC without touching the user's checkout.

Each stage's own flow run is tied to this task's run (`PARENT_TASK_RUN_ENV`, read by
`flows._stage.run_stage`), so the UI shows the stages under the pipeline run; afterwards
`publish_results` puts the run's metrics (one row per metric) and its figures (embedded, so the
UI's artifact page draws them) on the run as artifacts: the workspace's after a `dvc repro`, the
experiment's after a `dvc exp run`, with a note that names the experiment and how to apply it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import yaml
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import task_run

from tasks._prefect import logger, stage_task
from tasks.artifact_pages import experiment_markdown, figure_markdown, metrics_markdown

PARENT_TASK_RUN_ENV = "POSE3D_PARENT_TASK_RUN_ID"

# Lines of DVC's output kept for the error message of a failed run (the stage's own exception
# and DVC's "ERROR: ..." line come last).
_TAIL_LINES = 8
_RAN_EXPERIMENT = re.compile(r"^Ran experiment\(s\): (?P<names>\S.*)$")
Metrics = dict[str, dict[str, Any]]  # {metrics file: {key: value, nested or not}}


@dataclass(frozen=True)
class Repro:
    """What one `dvc_repro` did: the stages DVC ran, and the experiment it recorded (None for a
    plain `dvc repro` in the workspace)."""

    stages: list[str]
    experiment: str | None = None


@dataclass(frozen=True)
class RunResults:
    """What a run made, to publish: its metrics, for an experiment its baseline's (HEAD) too,
    its figures (``{path: image bytes}``) and why the metrics are missing, if they are."""

    metrics: Metrics
    figures: dict[str, bytes]
    experiment: str | None = None
    baseline: Metrics = field(default_factory=dict)
    problem: str | None = None


def _dvc() -> str:
    dvc = Path(sys.executable).with_name("dvc")
    return str(dvc) if dvc.exists() else "dvc"


def repro_command(
    targets: Sequence[str] = (), force: bool = False, overrides: Sequence[str] = ()
) -> list[str]:
    """``dvc repro [targets]``, or with overrides (``section.key=value``) ``dvc exp run --temp
    -S k=v ... [targets]``: an experiment that DVC runs in a temporary copy of the repository
    and records (it needs a git commit), leaving the workspace as it was. `force` reruns the
    named stages only (``--force --single-item``), or every stage when none is named."""
    for item in overrides:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ValueError(f"params override {item!r}: expected section.key=value")
    head = (
        ["exp", "run", "--temp", *(f"-S{item}" for item in overrides)] if overrides else ["repro"]
    )
    # forcing named stages reruns them, not everything upstream of them as well
    forced = ["--force", *(["--single-item"] if targets else [])] if force else []
    return [_dvc(), *head, *forced, *targets]


def experiment_name(lines: Sequence[str]) -> str | None:
    """The experiment DVC names in its output (``Ran experiment(s): NAME``), or None."""
    for line in lines:
        if found := _RAN_EXPERIMENT.match(line.strip()):
            return found["names"].split(",")[0].strip()
    return None


def dvc_repro(
    targets: Sequence[str] = (),
    force: bool = False,
    cwd: str | Path = ".",
    overrides: Sequence[str] = (),
) -> Repro:
    """Run `repro_command` in `cwd`, streaming its output to the log.

    Returns the stages DVC ran and, with `overrides`, the experiment's name (logged with how to
    see and apply it). Raises RuntimeError if DVC fails, with the last lines of its output (its
    "ERROR: ..." line among them), so a failed run's state says why; or if an experiment ran
    but DVC did not name it.
    """
    cmd = repro_command(targets, force, overrides)
    log = logger()
    log.info("running: %s", " ".join(cmd))
    ran: list[str] = []
    name: str | None = None
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
            name = experiment_name([line]) or name
    if proc.returncode != 0:
        output = "\n".join(tail) or "(no output)"
        raise RuntimeError(
            f"`{' '.join(cmd)}` failed with exit code {proc.returncode}; DVC said:\n{output}"
        )
    if not overrides:
        return Repro(ran)
    if name is None:
        raise RuntimeError(
            f"`{' '.join(cmd)}` gave no 'Ran experiment(s): NAME' line; it ended:\n"
            + "\n".join(tail)
        )
    log.info(
        "experiment %s ran in a temporary copy: the workspace is as it was; its results are in "
        "DVC's experiment %s (`dvc exp show`; `dvc exp apply %s` puts them in the workspace)",
        name, name, name,
    )  # fmt: skip
    return Repro(ran, name)


def _dvc_json(root: Path, *args: str) -> tuple[Any, str | None]:
    """DVC's JSON answer to ``dvc ARGS`` in `root`, or (None, what DVC said) if it failed."""
    shown = subprocess.run([_dvc(), *args], cwd=root, capture_output=True, text=True)
    if shown.returncode != 0:
        return None, f"`dvc {' '.join(args)}` failed: {shown.stderr.strip()}"
    return json.loads(shown.stdout or "{}"), None


def _reader(root: Path, experiment: str | None) -> Callable[[str], bytes]:
    """Read a repository path: from the workspace, or as experiment `experiment` holds it (its
    git files and its DVC outputs in the cache; its temporary copy is gone)."""
    if experiment is None:
        return lambda path: (root / path).read_bytes()
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(str(root), rev=experiment)
    return lambda path: bytes(fs.read_bytes(path))


def figure_paths(lock: str) -> list[str]:
    """The PNG outputs that a ``dvc.lock`` (its text) records: the stages' own figures."""
    stages = (yaml.safe_load(lock) or {}).get("stages", {})
    outs = (out.get("path", "") for stage in stages.values() for out in stage.get("outs", []))
    return sorted(path for path in outs if path.endswith(".png"))


def _per_file(files: dict[str, Any] | None) -> Metrics:
    """``{path: {"data": {key: value}}}``, as DVC's JSON gives metrics files, as `Metrics`."""
    return {path: file.get("data") or {} for path, file in (files or {}).items()}


def experiment_metrics(shown: list[dict[str, Any]], name: str) -> tuple[Metrics, Metrics] | None:
    """The metrics of experiment `name` and of its baseline commit, from ``dvc exp show
    --json`` (`shown`), each as ``{path: {key: value}}`` in the files' order; None if absent."""
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs") or []:
                if rev.get("name") == name:
                    files = [(row.get("data") or {}).get("metrics") for row in (rev, baseline)]
                    return _per_file(files[0]), _per_file(files[1])
    return None


def collect_results(cwd: str | Path = ".", experiment: str | None = None) -> RunResults:
    """The metrics and figures of the workspace (``dvc metrics show``), or of `experiment`
    (from ``dvc exp show``: its metrics beside those of HEAD, its baseline)."""
    root = Path(cwd).resolve()
    baseline: Metrics = {}
    if experiment is None:
        shown, problem = _dvc_json(root, "metrics", "show", "--json")
        metrics = _per_file((shown or {}).get("", {}).get("data"))
    else:
        shown, problem = _dvc_json(root, "exp", "show", "--json")
        found = experiment_metrics(shown or [], experiment)
        if found is None:
            problem = problem or f"`dvc exp show` does not list experiment {experiment}"
            return RunResults({}, {}, experiment, problem=problem)
        metrics, baseline = found
    read = _reader(root, experiment)
    try:
        figures = {path: read(path) for path in figure_paths(read("dvc.lock").decode())}
    except FileNotFoundError:  # nothing run yet
        figures = {}
    return RunResults(metrics, figures, experiment, baseline, problem)


def publish_artifacts(results: RunResults, cwd: str | Path = ".") -> dict[str, UUID]:
    """Put `results` on the current run as Markdown artifacts: ``pipeline-metrics``, one per
    figure (keyed by its path, e.g. ``data-evaluate-fig3``) and, for an experiment,
    ``pipeline-experiment``. Returns the artifacts' ids by key."""
    root = Path(cwd).resolve()
    name = results.experiment
    metrics = metrics_markdown(results.metrics, results.baseline, name, results.problem)
    pages = [("pipeline-metrics", metrics, f"metrics of experiment {name}" if name else "metrics")]
    if name is not None:
        pages.append(("pipeline-experiment", experiment_markdown(name), f"where {name} is"))
    for path, image in results.figures.items():
        key = re.sub(r"[^a-z0-9]+", "-", str(Path(path).with_suffix("")).lower()).strip("-")
        where = (
            f"A figure of experiment `{name}`: `dvc exp apply {name}` puts it in the workspace."
            if name
            else f"In the workspace: {root / path}"
        )
        described = f"figure of experiment {name}" if name else "figure"
        pages.append((key, figure_markdown(path, image, where), described))
    return {
        key: cast(UUID, create_markdown_artifact(markdown, key=key, description=description))
        for key, markdown, description in pages
    }


def publish_results(cwd: str | Path = ".", experiment: str | None = None) -> dict[str, UUID]:
    """`collect_results` and `publish_artifacts` them: the workspace's after a `dvc repro`,
    `experiment`'s after a `dvc exp run`. Returns the artifacts' ids by key."""
    return publish_artifacts(collect_results(cwd, experiment), cwd)


dvc_repro_task = stage_task(dvc_repro)
publish_results_task = stage_task(publish_results)
