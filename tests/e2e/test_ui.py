"""The Prefect UI path against a real server: the served `pipeline/dvc-repro` deployment, started
through the API with a params override as typed in the UI's run form, runs `dvc exp run --temp
-S` on the tiny repository, which stays byte for byte as it was (params.yaml, dvc.lock, data/, git
status); the stage's flow run is tied to the pipeline run, and the run names the experiment (log
and artifact) and publishes its metrics and figures (embedded) as artifacts."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from polling import served_deployment, wait_for
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.settings import PREFECT_API_URL, temporary_settings

DEADLINE_S = 300.0


@pytest.fixture()
def served(tiny_repo: Path, first_repro: str, tmp_path: Path) -> Iterator[str]:
    """A Prefect server with its state in the tiny repository, and `python -m flows.serve` there."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env |= {"PYTHONPATH": str(tiny_repo), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with served_deployment(tiny_repo, env, tmp_path / "serve.log") as api:
        yield api


def _workspace(repo: Path, run_in: Callable[..., object]) -> dict[str, str]:
    """What the user sees of `repo`: params.yaml, dvc.lock and every file under data/ (by
    digest), and `git status`."""
    files = [repo / "params.yaml", repo / "dvc.lock", *(repo / "data").rglob("*")]
    seen = {
        str(f.relative_to(repo)): hashlib.md5(f.read_bytes()).hexdigest()
        for f in files
        if f.is_file()
    }
    seen["git status"] = run_in(repo, "git", "status", "--porcelain").stdout  # type: ignore[attr-defined]
    return seen


def _children(client: SyncPrefectClient, parent: FlowRun) -> list[FlowRun]:
    """The flow runs tied to `parent` (through one of its task runs), as the UI shows them."""
    tied = FlowRunFilterParentFlowRunId(any_=[parent.id])
    return client.read_flow_runs(flow_run_filter=FlowRunFilter(parent_flow_run_id=tied))


@pytest.mark.slow  # about 50 s (make test-slow, and CI)
def test_a_run_started_through_the_api_runs_dvc_and_publishes_artifacts(
    served: str,
    tiny_repo: Path,
    run_in: Callable[..., object],
    commit: Callable[[Path, str], None],
) -> None:
    commit(tiny_repo, "before the UI run")  # `dvc exp run` needs a commit
    before = _workspace(tiny_repo, run_in)
    deadline = time.monotonic() + DEADLINE_S
    with temporary_settings({PREFECT_API_URL: served}), get_client(sync_client=True) as client:
        deployment = wait_for(
            "the deployment", lambda: client.read_deployment_by_name("pipeline/dvc-repro"), deadline
        )
        # examples=1: a value no other test used, or DVC's run cache would restore evaluate
        # instead of running it
        overrides = ["evaluate.examples=1"]
        run_id = client.create_flow_run_from_deployment(
            deployment.id, parameters={"targets": ["evaluate"], "overrides": overrides}
        ).id

        def finished() -> FlowRun | None:
            run = client.read_flow_run(run_id)
            return run if run.state is not None and run.state.is_final() else None

        run = wait_for("the pipeline run", finished, deadline)
        after = _workspace(tiny_repo, run_in)
        if after != before:  # put the session's repository back for the other tests
            run_in(tiny_repo, "git", "checkout", "--", "params.yaml", "dvc.lock")
            run_in(tiny_repo, "dvc", "checkout", "-q")
        assert after == before  # the experiment ran in a temporary copy
        assert run.state is not None and run.state.type == StateType.COMPLETED, run.state
        stages = _children(client, run)
        assert stages, "no stage flow run is tied to the pipeline run"
        # evaluate, and whatever DVC found stale before it
        assert "evaluate" in {client.read_flow(r.flow_id).name for r in stages}
        assert all(r.state_type == StateType.COMPLETED for r in stages), stages
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
        by_key = {a.key: str(a.data) for a in artifacts}
        name = by_key.get("pipeline-experiment", "").split("`")[1:2]
        assert name, by_key.get("pipeline-experiment")
        applied = f"`dvc exp apply {name[0]}`"
        logs = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
        wait_for(
            "the log line naming the experiment",
            lambda: any(applied in log.message for log in client.read_logs(log_filter=logs)),
            deadline,
        )
    # DVC kept the record: an experiment of that name, which the artifacts show and point to
    shown = json.loads(run_in(tiny_repo, "dvc", "exp", "show", "--json").stdout)  # type: ignore[attr-defined]
    names = {r["name"] for row in shown for e in row.get("experiments") or [] for r in e["revs"]}
    assert name[0] in names, names
    assert f"dvc exp apply {name[0]}" in by_key.pop("pipeline-experiment")
    metrics = by_key.pop("pipeline-metrics")
    assert f"# Metrics of experiment `{name[0]}`" in metrics and "| evaluate | " in metrics
    assert "![data/evaluate/fig3.png](data:image/png;base64," in by_key["data-evaluate-fig3"]
    assert all(f"dvc exp apply {name[0]}" in page for page in by_key.values()), by_key.keys()
