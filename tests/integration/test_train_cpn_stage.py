"""The `train_cpn` flow under the session's Prefect test harness, on a tiny frames table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cpn_fixtures import write_tiny_extract

from flows.train_cpn import train_cpn_flow
from pose3d.config import apply_overrides, load_raw
from tasks.route.cpn import load_cpn


@pytest.fixture()
def params_file(repo_root: Path, tmp_path: Path) -> Path:
    write_tiny_extract(tmp_path / "extract")
    raw = apply_overrides(load_raw(repo_root / "params.yaml"), [
        f"paths.extract={tmp_path / 'extract'}", f"paths.train_cpn={tmp_path / 'cpn'}",
        "device=cpu", "train_cpn.subjects=[S1]", "train_cpn.heldout_subjects=[S8]",
        "train_cpn.input_size=64", "train_cpn.channels=8", "train_cpn.epochs=1",
        "train_cpn.batch_size=2", "cr.margin=0.3",
    ])  # fmt: skip
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.usefixtures("torch_one_thread")
def test_flow_trains_and_scores(params_file: Path, prefect_harness: None) -> None:
    metrics = train_cpn_flow(params_path=str(params_file), overrides=[])
    out = params_file.parent / "cpn"
    assert json.loads((out / "scores.json").read_text()) == pytest.approx(metrics)
    assert set(json.loads((out / "metrics.json").read_text())) == {
        "heldout_px_error", "heldout_pck10_box", "heldout_left_right_ratio", "heldout_swap_share"
    }  # fmt: skip
    assert metrics["heldout_frames"] == 4 and metrics["epochs"] == 1
    assert 0.0 <= metrics["heldout_pck5_box"] <= metrics["heldout_pck10_box"] <= 1.0
    assert (out / "history.csv").read_text().count("\n") == 2
    assert load_cpn(out / "checkpoint.pt").margin == 0.3
    with pytest.raises(ValueError, match=r"\['S1'\] appear in the challenge"):
        write_tiny_extract(params_file.parent / "extract", challenge_val="S1")
        train_cpn_flow(params_path=str(params_file), overrides=[])
