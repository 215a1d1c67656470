"""The real-data lifter benchmark end to end, briefly (the full run is bench/h36m_lifter.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_bench_trains_and_scores_through_the_pipeline(
    shared_data: Path, repo_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    cmd = [
        sys.executable, str(repo_root / "bench" / "h36m_lifter.py"),
        "--h36m-root", str(shared_data / "h36m"), "--train", "S1", "--test", "S8",
        "--input", "stacked_hourglass", "--epochs", "1",
        "--set", "train_lifter.model.width=256", "--out", str(tmp_path / "run"), "--json", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["train_rows"] > 40_000 and res["test_rows"] > 40_000
    # one epoch on one subject is far from converged, but it is a lifter, not noise
    assert 0 < res["mpjpe_p2_mm"] < res["mpjpe_p1_mm"] < 200
    assert len(res["per_action_p1_mm"]) == 15
    assert 0 < res["train_step_gflops"] <= res["matmul_gflops"] * 1.5
    assert "MPJPE Protocol 1" in proc.stdout
