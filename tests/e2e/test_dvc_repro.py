"""`dvc repro` end to end on a tiny params file, then reruns after params changes."""

from __future__ import annotations

import json
import re
import sys
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
        "train_lifter/gt_box/checkpoint.pt",
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
    for variant in ("cr", "full", "gt_box"):  # every challenge image of Train, Val and Test
        # (gt_box: the synthetic world's sidecars give every one a label box)
        assert read_keypoints(data / f"infer_2d/{variant}.parquet").num_rows == 48 + 16 + 8
    metrics = json.loads((data / "evaluate/scores.json").read_text())
    assert metrics["rows"] == 16
    assert 0 < metrics["mpjpe_p2_mm"] <= metrics["mpjpe_p1_mm"] < 2000
    assert 0 < metrics["reference_mpjpe_p1_mm"] < 2000 and metrics["kp2d_rows_compared"] == 16
    parts = [metrics[f"budget_{p}_mm"] for p in ("lifter", "cpn", "detector")]
    assert metrics["budget_gt_box_rows"] == 16 and 0 < metrics["gt_box_mpjpe_p1_mm"] < 2000
    assert sum(parts) == pytest.approx(metrics["mpjpe_p1_mm"])  # the route's error, split
    assert "<h2>Error budget</h2>" in (data / "evaluate/report.html").read_text()
    table = (data / "ablation/table1.md").read_text().strip().splitlines()
    assert len(table) == 2 + 9  # 8 combinations + max-norm in the other mode
    assert "w.o. CR P1" in table[0]


@pytest.mark.slow  # about 30 s; one run's determinism is also tests/integration/test_determinism.py
def test_metrics_stay_readable_and_reruns_give_the_same_metrics(
    tiny_repo: Path, first_repro: str, run_in: Callable[..., object]
) -> None:
    shown = run_in(tiny_repo, "dvc", "metrics", "show", "--json").stdout  # type: ignore[attr-defined]
    files = json.loads(shown)[""]["data"]
    stages = ("train_detector", "train_cpn", "infer_2d", "evaluate", "ablation")
    assert sorted(files) == sorted(f"data/{s}/metrics.json" for s in stages)
    for name, metrics in files.items():  # a few headline numbers each; the rest in scores.json
        assert 2 <= len(metrics["data"]) <= 6, name
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


@pytest.mark.slow  # about 50 s (make test-slow, and CI)
def test_shared_keypoint_caches_train_the_lifter_in_a_fresh_clone(
    tiny_repo: Path,
    first_repro: str,
    run_in: Callable[..., object],
    commit: Callable[[Path, str], None],
    tmp_path: Path,
) -> None:
    """docs/sharing.md: one clone pushes its keypoint caches and 2D networks to its remote; a
    fresh clone gets them with one command given that remote, finds every 2D stage up to date,
    and trains and evaluates the lifter with no 2D stage run, reporting to one Prefect server."""
    remote = tmp_path / "remote"
    run_in(tiny_repo, "git", "add", "data")  # the run's record: its metrics and histories
    commit(tiny_repo, "a run")
    run_in(tiny_repo, sys.executable, "-m", "flows.share", "push", "--remote", str(remote))
    clone = tmp_path / "clone"
    run_in(tmp_path, "git", "clone", "-q", str(tiny_repo), str(clone))
    proc = run_in(clone, sys.executable, "-m", "flows.share", "pull", "--remote", str(remote))
    said = proc.stdout + proc.stderr  # type: ignore[attr-defined]
    assert "every 2D stage is up to date with the shared caches" in said, said[-3000:]
    assert sorted(ran(said)) == ["ablation", "evaluate", "extract", "generate", "lifting",
                                 "train_lifter"]  # fmt: skip
    assert "Starting temporary server" not in said  # one server (the session's), not one a stage
    lines = [line.split(" | ", 1)[-1] for line in said.splitlines() if "WARNING" in line]
    assert len(lines) == len(set(lines)), lines  # no warning said twice
    for variant in ("cr", "full"):
        assert (clone / f"data/infer_2d/{variant}.parquet").is_file()
    assert would_rerun(clone, run_in) == []  # the 2D stages too: their networks came along
    same = "data/evaluate/metrics.json"  # the same caches, params and seed: the same lifter
    assert (clone / same).read_text() == (tiny_repo / same).read_text()


def would_rerun(repo: Path, run_in: Callable[..., object]) -> list[str]:
    """The stages the next `dvc repro` would run: those `dvc status` finds changed, and every
    stage downstream of one (`dvc dag --dot`). Nothing runs."""
    status = json.loads(run_in(repo, "dvc", "status", "--json").stdout)  # type: ignore[attr-defined]
    dot = run_in(repo, "dvc", "dag", "--dot").stdout  # type: ignore[attr-defined]
    edges = re.findall(r'"([^"]+)" -> "([^"]+)"', dot)
    stale = {name.split(":")[-1] for name in status}
    while True:
        more = {after for before, after in edges if before in stale} - stale
        if not more:
            return sorted(stale)
        stale |= more


def _would_rerun_after(
    repo: Path, run_in: Callable[..., object], path: str, old: str, new: str
) -> list[str]:
    """Change `old` to `new` in the file `path` of `repo`, give `would_rerun`, put it back."""
    saved = (repo / path).read_text()
    try:
        _set_param(repo, old, new, path)
        return would_rerun(repo, run_in)
    finally:
        (repo / path).write_text(saved)


def test_a_lifter_param_reruns_the_lifter_stages_only(
    tiny_repo: Path, first_repro: str, run_in: Callable[..., object]
) -> None:
    lr = ("lr: 0.002\n  lr_schedule", "lr: 0.001\n  lr_schedule")  # train_lifter.lr
    rerun = _would_rerun_after(tiny_repo, run_in, "params.yaml", *lr)
    assert rerun == ["ablation", "evaluate", "train_lifter"]


def test_a_cpn_param_reruns_cpn_training_and_what_follows_not_the_detector(
    tiny_repo: Path, first_repro: str, run_in: Callable[..., object]
) -> None:
    jitter = ("rotate_deg: 30.0", "rotate_deg: 20.0")  # train_cpn.rotate_deg
    assert _would_rerun_after(tiny_repo, run_in, "params.yaml", *jitter) == [
        "ablation", "evaluate", "infer_2d", "lifting", "train_cpn", "train_lifter",
    ]  # fmt: skip


def test_editing_the_lifter_code_retrains_no_2d_network(
    tiny_repo: Path, first_repro: str, run_in: Callable[..., object]
) -> None:
    """Code dependencies follow the ideas: the 2D stages import nothing of the lifter's."""
    edit = ("class Lifter(", "# an edit\nclass Lifter(")
    rerun = _would_rerun_after(tiny_repo, run_in, "models/lifter.py", *edit)
    assert "train_lifter" in rerun
    assert not {"train_detector", "train_cpn", "infer_2d"} & set(rerun), rerun


@pytest.mark.slow  # about 17 s; experiments are also tests/unit/test_repro.py's, the plots page tests/browser/
def test_experiments_and_plots(
    tiny_repo: Path,
    first_repro: str,
    run_in: Callable[..., object],
    commit: Callable[[Path, str], None],
) -> None:
    commit(tiny_repo, "before the experiment")
    out = run_in(tiny_repo, "dvc", "exp", "run", "-S", "evaluate.examples=3").stdout  # type: ignore[attr-defined]
    assert ran(out) == ["evaluate"]
    shown = json.loads(run_in(tiny_repo, "dvc", "exp", "show", "--json").stdout)  # type: ignore[attr-defined]
    exps = [e for rev in shown for e in (rev.get("experiments") or [])]
    assert exps, shown
    params = exps[0]["revs"][0]["data"]["params"]["params.yaml"]["data"]
    assert params["evaluate"]["examples"] == 3
    run_in(tiny_repo, "git", "checkout", "--", "params.yaml", "dvc.lock")
    run_in(tiny_repo, "dvc", "checkout", "-q")
    html = tiny_repo / "dvc_plots/index.html"
    run_in(tiny_repo, "dvc", "plots", "show", "-o", str(html.parent))
    page = html.read_text()
    for plot in (  # Fig. 2, the per-joint / per-action bars and the training curves
        "data_ablation_capacity_csv", "data_evaluate_per_joint_csv",
        "data_evaluate_per_action_csv", "data_train_lifter_history_csv", "lifter_train_loss",
        "cpn_train_loss", "detector_train_loss",
    ):  # fmt: skip
        assert f"vegaEmbed('#{plot}'" in page, plot


def _set_param(repo: Path, old: str, new: str, path: str = "params.yaml") -> None:
    params = repo / path
    text = params.read_text()
    assert old in text, old
    params.write_text(text.replace(old, new, 1))


def _modified_deps(status: dict[str, list], stage: str) -> set[str]:
    """The deps `dvc status --json` reports modified for `stage`."""
    deps = [e.get("changed deps", {}) for e in status.get(stage, []) if isinstance(e, dict)]
    return {path for d in deps for path, how in d.items() if how == "modified"}


@pytest.mark.slow  # about 30 s; which stages a change reruns: the would_rerun tests below
def test_params_change_reruns_only_dependent_stages(
    tiny_repo: Path, first_repro: str, run_in: Callable[..., object]
) -> None:
    saved = {name: (tiny_repo / name).read_text() for name in ("params.yaml", "dvc.lock")}
    try:
        _set_param(tiny_repo, "examples: 4", "examples: 2")
        assert ran(run_in(tiny_repo, "dvc", "repro").stdout) == ["evaluate"]  # type: ignore[attr-defined]
        _set_param(tiny_repo, "occluder_probability: 0.25", "occluder_probability: 0.5")
        out = run_in(tiny_repo, "dvc", "repro", "extract").stdout  # type: ignore[attr-defined]
        assert ran(out) == ["generate", "extract"]
        # other pixels, same labels: the 2D stages see it through the image manifests alone
        status = json.loads(run_in(tiny_repo, "dvc", "status", "--json").stdout)  # type: ignore[attr-defined]
        h36m, chal = "data/extract/h36m_images.md5", "data/extract/challenge_images.md5"
        assert {h36m, chal} <= _modified_deps(status, "train_detector")
        assert h36m in _modified_deps(status, "train_cpn")
        assert chal in _modified_deps(status, "infer_2d")
    finally:  # the other test modules share this repository: put the world back (DVC's cache)
        for name, text in saved.items():
            (tiny_repo / name).write_text(text)
        run_in(tiny_repo, "dvc", "checkout", "-q")
    assert ran(run_in(tiny_repo, "dvc", "repro").stdout) == []  # type: ignore[attr-defined]
