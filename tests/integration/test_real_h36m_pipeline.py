"""The documented real-data command on ../shared/data/h36m, briefly: no synthetic world, no
synthetic rows (README, "Running on real data")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

STAGES = ("extract", "import_keypoints", "lifting", "train_lifter", "evaluate", "ablation")


def test_params_h36m_runs_the_lifter_on_real_human36m(
    shared_data: Path, repo_root: Path, tmp_path: Path
) -> None:
    sets = [f"paths.{s}={tmp_path / s}" for s in STAGES] + [
        f"paths.h36m_root={shared_data / 'h36m'}",
        "extract.h36m_subjects=[S1, S8]", "lifting.train=[S1]",
        f"lifting.keypoints={tmp_path / 'import_keypoints' / 'stacked_hourglass.parquet'}",
        "lifting.reference_keypoints=\"\"",
        "train_lifter.epochs=1", "train_lifter.model.width=64", "device=cpu",
    ]  # fmt: skip
    cmd = [sys.executable, "-m", "flows.pipeline", "--params", "params/h36m.yaml"]
    cmd += [arg for s in sets for arg in ("--set", s)]
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert pq.read_table(tmp_path / "extract" / "challenge.parquet").num_rows == 0
    subjects = set(pq.read_table(tmp_path / "extract" / "h36m.parquet")["subject"].to_pylist())
    assert subjects == {"S1", "S8"}
    assert not (tmp_path / "generate").exists()
    lifting = json.loads((tmp_path / "lifting" / "summary.json").read_text())["route"]["parts"]
    assert lifting["test"]["rows"] > 40_000
    assert lifting["test"]["rows_with_camera"] == lifting["test"]["rows"]
    metrics = json.loads((tmp_path / "evaluate" / "scores.json").read_text())
    assert 0 < metrics["mpjpe_p2_mm"] < metrics["mpjpe_p1_mm"] < 250  # one tiny epoch
