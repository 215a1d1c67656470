"""`dvc repro` end to end on a tiny params file, then reruns after params changes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pose3d.frames import read_frames
from pose3d.keypoints import read_keypoints

STAGES = [
    "generate", "extract", "import_keypoints", "train_detector", "train_cpn", "infer_2d",
    "lifting", "train_lifter", "evaluate", "ablation",
]  # fmt: skip


def ran(stdout: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", stdout)


@pytest.fixture(scope="module")
def first_repro(tiny_repo: Path, run_in: Callable[..., object]) -> str:
    return run_in(tiny_repo, "dvc", "repro").stdout  # type: ignore[attr-defined]


def test_repro_runs_every_stage_and_writes_the_artifacts(tiny_repo: Path, first_repro: str) -> None:
    assert sorted(ran(first_repro)) == sorted(STAGES)  # DVC may order independent stages
    data = tiny_repo / "data"
    for rel in [
        "generate/h36m/cameras.h5",
        "generate/challenge/Train/POSE/00001.csv",
        "generate/challenge/Test/IMG/00008.jpg",
        "train_detector/checkpoint.pt",
        "train_cpn/checkpoint.pt",
        "train_lifter/checkpoint.pt",
        "train_lifter/history.csv",
        "train_lifter/reference/checkpoint.pt",
        "evaluate/per_joint.png",
        "evaluate/fig3.png",
        "ablation/table1.md",
        "ablation/capacity.png",
    ]:
        assert (data / rel).is_file(), rel
    assert not (data / "generate/challenge/Test/POSE").exists()
    challenge = read_frames(data / "extract/challenge.parquet")
    assert sorted(set(challenge["split"].to_pylist())) == ["Test", "Train", "Val"]
    assert challenge.num_rows == 48 + 16 + 8
    h36m = read_frames(data / "extract/h36m.parquet")
    assert sorted(set(h36m["subject"].to_pylist())) == ["S1", "S11", "S5", "S9"]
    assert read_keypoints(data / "import_keypoints/gt.parquet").num_rows > 0
    for variant in ("cr", "full"):  # every challenge image of infer_2d.splits: Train and Val
        assert read_keypoints(data / f"infer_2d/{variant}.parquet").num_rows == 48 + 16
    metrics = json.loads((data / "evaluate/scores.json").read_text())
    assert metrics["rows"] == 16
    assert 0 < metrics["mpjpe_p2_mm"] <= metrics["mpjpe_p1_mm"] < 2000
    assert 0 < metrics["reference_mpjpe_p1_mm"] < 2000 and metrics["kp2d_rows_compared"] == 16
    table = (data / "ablation/table1.md").read_text().strip().splitlines()
    assert len(table) == 2 + 9  # 8 combinations + max-norm in the other mode
    assert "w.o. CR P1" in table[0]


def test_metrics_stay_readable_and_reruns_give_the_same_metrics(
    tiny_repo: Path, first_repro: str, run_in: Callable[..., object]
) -> None:
    shown = run_in(tiny_repo, "dvc", "metrics", "show", "--json").stdout  # type: ignore[attr-defined]
    files = json.loads(shown)[""]["data"]
    stages = ("train_detector", "train_cpn", "infer_2d", "evaluate", "ablation")
    assert sorted(files) == sorted(f"data/{s}/metrics.json" for s in stages)
    for name, metrics in files.items():  # a few headline numbers each; the rest in scores.json
        assert 2 <= len(metrics["data"]) <= 5, name
    before = (tiny_repo / "data/evaluate/metrics.json").read_text()
    (tiny_repo / "data/train_lifter/checkpoint.pt").unlink()  # trained again, not resumed
    for stage in ("train_lifter", "evaluate"):  # the same params and seed
        run_in(tiny_repo, "dvc", "repro", "--force", "--single-item", stage)
    assert (tiny_repo / "data/evaluate/metrics.json").read_text() == before


def test_rerun_without_changes_runs_nothing(
    tiny_repo: Path, first_repro: str, run_in: Callable[..., object]
) -> None:
    out = run_in(tiny_repo, "dvc", "repro").stdout  # type: ignore[attr-defined]
    assert ran(out) == []


def _set_param(repo: Path, old: str, new: str) -> None:
    params = repo / "params.yaml"
    text = params.read_text()
    assert old in text, old
    params.write_text(text.replace(old, new, 1))


def test_params_change_reruns_only_dependent_stages(
    tiny_repo: Path, first_repro: str, run_in: Callable[..., object]
) -> None:
    _set_param(tiny_repo, "examples: 4", "examples: 2")
    assert ran(run_in(tiny_repo, "dvc", "repro").stdout) == ["evaluate"]  # type: ignore[attr-defined]
    _set_param(tiny_repo, "occluder_probability: 0.25", "occluder_probability: 0.5")
    out = run_in(tiny_repo, "dvc", "repro", "extract").stdout  # type: ignore[attr-defined]
    assert ran(out) == ["generate", "extract"]
