"""flows.serve: one queued run at a time, fast --help, and no serving without a server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.client.schemas.objects import ConcurrencyLimitStrategy

from flows.serve import DEPLOYMENT_NAME, FLOW_NAME, build_deployment

ROOT = Path(__file__).resolve().parents[2]


def _serve(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | env
    env["PREFECT_HOME"] = str(tmp_path / "prefect")  # no profile that sets PREFECT_API_URL
    return subprocess.run(
        [sys.executable, "-m", "flows.serve", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_deployment_runs_one_at_a_time_and_queues_the_rest() -> None:
    deployment = build_deployment()
    assert (deployment.flow_name, deployment.name) == (FLOW_NAME, DEPLOYMENT_NAME)
    assert deployment.concurrency_limit == 1
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE
    assert deployment.parameters == {"targets": [], "force": False, "overrides": []}


def test_help_is_fast_and_names_the_deployment(tmp_path) -> None:
    start = time.perf_counter()
    out = _serve(["--help"], {}, tmp_path)
    assert time.perf_counter() - start < 1.0
    assert out.returncode == 0, out.stderr
    assert "pipeline/dvc-repro" in out.stdout and "make serve" in out.stdout


def test_help_does_not_import_prefect() -> None:
    code = (
        "import sys\n"
        "from flows import serve\n"
        "try:\n    serve.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('prefect' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr


def test_refuses_without_prefect_api_url(tmp_path) -> None:
    out = _serve([], {}, tmp_path)
    assert out.returncode == 2
    assert "PREFECT_API_URL is not set" in out.stderr and "`make ui`" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_refuses_when_the_server_does_not_answer(tmp_path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = _serve([], {"PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}, tmp_path)
    assert out.returncode == 2
    assert f"no Prefect server answers at PREFECT_API_URL=http://127.0.0.1:{port}/api" in out.stderr
    assert "`make ui`" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_overrides_make_the_run_a_dvc_experiment() -> None:
    from tasks.repro import repro_command

    assert repro_command(["evaluate"])[1:] == ["repro", "evaluate"]
    assert repro_command(["evaluate"], True)[1:] == [
        "repro",
        "--force",
        "--single-item",
        "evaluate",
    ]
    assert repro_command([], True, ["train_lifter.lr=0.001", "ablation.epochs=2"])[1:] == [
        "exp", "run", "--temp", "-Strain_lifter.lr=0.001", "-Sablation.epochs=2", "--force",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="expected section.key=value"):
        repro_command([], False, ["train_lifter.lr"])
