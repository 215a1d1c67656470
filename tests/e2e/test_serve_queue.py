"""Two runs of the served `pipeline/dvc-repro` deployment started together both finish, one after
the other, against a real Prefect server (about 30 s on 2 cores)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import served_deployment, wait_for
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.settings import PREFECT_API_URL, temporary_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 120.0


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Prefect server (its state under `tmp_path`) and `python -m flows.serve` in a DVC
    repository whose one stage sleeps 3 s and always reruns; yields the API URL."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    for key, value in {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "DVC_NO_ANALYTICS": "1",
        "PYTHONPATH": str(ROOT),
    }.items():
        monkeypatch.setenv(key, value)  # the server and `flows.serve` inherit these
    repo = tmp_path / "repo"
    repo.mkdir()
    dvc = Path(sys.executable).with_name("dvc")
    subprocess.run([str(dvc), "init", "--no-scm", "-q"], cwd=repo, check=True)
    sleep = f'{sys.executable} -c "import time; time.sleep(3)"'
    (repo / "dvc.yaml").write_text(
        f"stages:\n  wait:\n    cmd: {sleep}\n    always_changed: true\n"
    )
    with served_deployment(repo, dict(os.environ), tmp_path / "serve.log") as api:
        yield api


def test_two_runs_started_together_queue_and_both_finish(served: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    with temporary_settings({PREFECT_API_URL: served}), get_client(sync_client=True) as client:
        deployment = wait_for(
            "the deployment",
            lambda: client.read_deployment_by_name("pipeline/dvc-repro"),
            deadline,
        )
        assert deployment.global_concurrency_limit is not None
        assert deployment.global_concurrency_limit.limit == 1
        ids = [client.create_flow_run_from_deployment(deployment.id).id for _ in range(2)]

        def finished() -> list[FlowRun] | None:
            runs = [client.read_flow_run(i) for i in ids]
            return runs if all(r.state is not None and r.state.is_final() for r in runs) else None

        runs = wait_for("both runs to finish", finished, deadline)
    assert [r.state.type for r in runs] == [StateType.COMPLETED] * 2, [r.state for r in runs]
    first, second = sorted(runs, key=lambda r: r.start_time)
    assert first.end_time is not None and second.start_time >= first.end_time
