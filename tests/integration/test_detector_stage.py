"""The `train_detector` flow under the session's Prefect test harness, on a tiny frames table
(64 x 64 images of a rectangle "person"): its outputs, metrics.json's keys, and a rerun that
resumes the finished checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path

import detector_frames
import pytest
import yaml

from flows.train_detector import train_detector_flow
from pose3d.config import apply_overrides, load_raw
from tasks.route.detector import detect_person_boxes, load_detector
from tasks.route.frames import read_rgb

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture()
def params_file(repo_root: Path, tmp_path: Path) -> Path:
    detector_frames.write_box_frames(tmp_path / "extract")
    raw = apply_overrides(load_raw(repo_root / "params.yaml"), [
        f"paths.extract={tmp_path / 'extract'}", f"paths.train_detector={tmp_path / 'det'}",
        "device=cpu", "train_detector.image_size=64", "train_detector.subjects=[S1, S5]",
        "train_detector.heldout_subjects=[S8]", "train_detector.eval_splits=[Val]",
        "train_detector.epochs=2", "train_detector.batch_size=8",
    ])  # fmt: skip
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_flow_trains_and_scores(params_file: Path, tmp_path: Path, prefect_harness: None) -> None:
    metrics = train_detector_flow(params_path=str(params_file), overrides=[])
    out = tmp_path / "det"
    for name in ("checkpoint.pt", "history.csv", "metrics.json", "scores.json", "detections.png"):
        assert (out / name).is_file(), name
    assert (out / "history.csv").read_text().count("\n") == 3  # header + 2 epochs
    stored = json.loads((out / "scores.json").read_text())
    assert stored == pytest.approx(metrics, nan_ok=True)
    headline = json.loads((out / "metrics.json").read_text())  # `dvc metrics show`
    assert headline == {k: stored[k] for k in ("val_ap50", "val_best_box_recall")}
    for key in ("heldout_ap50", "heldout_best_box_recall", "val_ap50", "val_best_box_recall",
                "train_seconds"):  # fmt: skip
        assert isinstance(stored[key], float) and math.isfinite(stored[key]), key
    assert 0.0 <= stored["val_ap50"] <= 1.0 and stored["heldout_images"] == 8
    assert stored["val_images"] == 6 and stored["epochs"] == 2
    det = load_detector(out / "checkpoint.pt")
    assert det.image_size == 64 and det.model.transform.fixed_size == (64, 64)
    image = read_rgb(next((tmp_path / "extract" / "h36m_images" / "S8").glob("*.jpg")))
    assert len(detect_person_boxes(det, [image, image])) == 2
