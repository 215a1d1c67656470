"""Every stage's command line: `--help` says what it reads and writes, and bad params are one
line naming the key, the value and where it came from, before Prefect or torch start."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

STAGES = ["generate", "extract", "import_keypoints", "lifting", "train_lifter", "evaluate",
          "ablation", "train_cpn"]  # fmt: skip


def _run(repo_root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=repo_root, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    return proc, time.perf_counter() - t0


@pytest.mark.parametrize("stage", STAGES)
def test_help_names_inputs_outputs_and_params(repo_root: Path, stage: str) -> None:
    proc, seconds = _run(repo_root, "-m", f"flows.{stage}", "--help")
    assert proc.returncode == 0, proc.stderr
    for word in ("reads:", "writes:", "params:", f"dvc repro {stage}"):
        assert word in proc.stdout
    assert seconds < 5  # about 0.2 s alone; Prefect and torch alone would take several


def test_bad_params_are_one_line_before_anything_starts(repo_root: Path) -> None:
    proc, seconds = _run(repo_root, "-m", "flows.train_lifter", "--set", "lifting.dataset=h37m")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "train_lifter: bad params: --set lifting.dataset=h37m: lifting.dataset: expected one of "
        "('challenge', 'h36m'), got 'h37m'"
    )
    assert seconds < 5
    proc, _ = _run(repo_root, "-m", "flows.evaluate", "--set", "train_lifter.lr=fast")
    assert proc.returncode == 2 and "--set train_lifter.lr=fast: train_lifter.lr" in proc.stderr
    proc, _ = _run(repo_root, "-m", "flows.evaluate", "--set", "train_lifter.speed=1")
    assert proc.returncode == 2 and "train_lifter.speed" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc, _ = _run(repo_root, "-m", "flows.evaluate", "--params", "absent.yaml")
    assert proc.returncode == 2 and "absent.yaml: params file not found" in proc.stderr


def test_cuda_without_a_gpu_fails_at_once(repo_root: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("torch sees a CUDA device here")
    proc, seconds = _run(repo_root, "-m", "flows.train_cpn", "--set", "device=cuda")
    assert proc.returncode == 2 and seconds < 10
    assert proc.stderr.strip() == (
        "train_cpn: bad params: --set device=cuda: device: cuda, but torch sees no CUDA device "
        "(use auto or cpu)"
    )


@pytest.mark.parametrize("stage", ["train_cpn", "train_detector"])
def test_a_subject_the_challenge_evaluates_fails_at_once(
    repo_root: Path, tmp_path: Path, stage: str
) -> None:
    """Read from the extract stage's challenge table before the stage starts: exit 2, one line,
    blamed on the --set that named the subject."""
    from cpn_fixtures import write_tiny_extract

    write_tiny_extract(tmp_path, per_subject=1, challenge_val="S5")
    proc, seconds = _run(repo_root, "-m", f"flows.{stage}", "--set", f"paths.extract={tmp_path}",
                         "--set", f"{stage}.subjects=[S1, S5]")  # fmt: skip
    assert proc.returncode == 2 and seconds < 10, proc.stderr
    assert proc.stderr.strip() == (
        f"{stage}: bad params: --set {stage}.subjects=[S1, S5]: {stage}.subjects: ['S5'] appear "
        f"in the challenge's Val/Test images ({tmp_path / 'challenge.parquet'}); no 2D model "
        "may train on them"
    )

    proc, _ = _run(repo_root, "-m", f"flows.{stage}", "--set", f"{stage}.subjects=[S1, S8]")
    assert proc.returncode == 2 and proc.stderr.strip() == (  # a cross-field check, blamed right
        f"{stage}: bad params: --set {stage}.subjects=[S1, S8]: {stage}.subjects: ['S8'] are "
        f"also in {stage}.heldout_subjects (held out)"
    )


def test_evaluate_names_synthetic_or_real_data_the_params_and_the_commit(repo_root: Path) -> None:
    from flows.evaluate import made_from
    from pose3d.config import load_params

    synthetic = made_from(load_params(repo_root / "params.yaml"), "params.yaml", [])
    assert synthetic["data"].startswith("synthetic: the embedded world of `generate` (seed ")
    assert synthetic["params"] == "params.yaml" and synthetic["commit"]
    sets = ["paths.challenge_root=/data/challenge"]
    real = made_from(load_params(repo_root / "params.yaml", sets), "params.yaml", sets)
    assert real["data"] == "real: challenge data at /data/challenge"
    assert real["params"] == "params.yaml --set paths.challenge_root=/data/challenge"
