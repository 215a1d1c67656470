"""How a stage process ends when things around it go: killed outright, it leaves no Prefect server
behind; when its Prefect server goes away after its work is done, it exits 0 at once instead of
retrying its reports for minutes (while DVC's lock stays held)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from flows.server import free_port, prefect_server

# A stage as `flows._stage.run_stage` runs it: its work is to write `done`, then wait for `go`.
STAGE = """
import sys, time
from pathlib import Path
from prefect import flow, get_run_logger
from flows._stage import StageSpec, run_stage

SPEC = StageSpec(name="demo", summary="a test", reads="-", writes="-", sections=("seed",))
HERE = Path(sys.argv[1])

@flow(name="demo")
def demo_flow(params_path: str = "params.yaml", overrides: list[str] | None = None) -> int:
    get_run_logger().info("working")
    (HERE / "done").write_text("")
    while not (HERE / "go").exists():
        time.sleep(0.1)
    for i in range(50):
        get_run_logger().info("after the work %d", i)
    return 1

raise SystemExit(run_stage(SPEC, demo_flow, ["--params", sys.argv[2]]))
"""


def _start(repo_root: Path, here: Path, api_url: str | None) -> subprocess.Popen[str]:
    (here / "stage.py").write_text(STAGE)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {"PYTHONPATH": str(repo_root), "PREFECT_HOME": str(here / "prefect-home")}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    cmd = [sys.executable, str(here / "stage.py"), str(here), str(repo_root / "params.yaml")]
    return subprocess.Popen(cmd, cwd=here, env=env, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, as from a shell  # fmt: skip


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert proc.poll() is None, f"the stage exited early: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"no {path.name} after {timeout_s} s"
        time.sleep(0.1)


@pytest.mark.parametrize("signum", [signal.SIGKILL, pytest.param(signal.SIGINT, marks=pytest.mark.slow)],
                         ids=["kill-9", "ctrl-c"])  # fmt: skip
def test_a_stopped_stage_leaves_no_prefect_server(
    repo_root: Path, tmp_path: Path, signum: int
) -> None:
    """``kill -9``, or Ctrl-C (which reaches the whole process group: the stage stops at once,
    rather than retrying a server the same Ctrl-C stopped)."""
    proc = _start(repo_root, tmp_path, api_url=None)  # no server given: the stage starts one
    try:
        _wait_for(tmp_path / "done", proc, timeout_s=120)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the stage runs no server of its own"
        start = time.monotonic()
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)  # as a terminal's Ctrl-C
        else:
            proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=30)
        assert time.monotonic() - start < 10, stderr[-2000:]
        assert proc.returncode == (-9 if signum == signal.SIGKILL else 128 + signum)
        _, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, [" ".join(p.cmdline()) for p in alive]
    finally:
        for child in psutil.Process().children(recursive=True):
            child.kill()


@pytest.mark.slow
def test_a_stage_whose_server_went_away_exits_0_when_its_work_is_done(
    repo_root: Path, tmp_path: Path
) -> None:
    (tmp_path / "prefect.toml").write_text("[server]\nanalytics_enabled = false\n")
    with prefect_server(free_port(), cwd=str(tmp_path)) as api_url:  # `make ui`'s server
        proc = _start(repo_root, tmp_path, api_url)
        _wait_for(tmp_path / "done", proc, timeout_s=120)
    # the server is stopped; the stage's last reports can go nowhere
    start = time.monotonic()
    (tmp_path / "go").write_text("")
    _, stderr = proc.communicate(timeout=120)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, stderr[-2000:]
    assert (
        "its work is done and its outputs are written, but the Prefect server went away" in stderr
    )
    assert seconds < 40  # Prefect alone retries for about 150 s (5 tries, twice), then exits 1


@pytest.mark.slow
def test_a_stage_with_a_server_of_its_own_reports_everything_and_exits_at_once(
    repo_root: Path, tmp_path: Path
) -> None:
    (tmp_path / "go").write_text("")  # its work goes straight through
    start = time.monotonic()
    proc = _start(repo_root, tmp_path, api_url=None)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-2000:]
    assert "Error logging to API" not in stderr and "went away" not in stderr, stderr[-2000:]
    assert time.monotonic() - start < 30  # the 10 s wait for a gone server would show here
