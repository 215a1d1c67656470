"""`pose3d submit` (flows.cli, tasks.submit) on a tiny challenge tree: every Test image gets a
POSE CSV that the challenge reader reads back as the lifter's prediction; an image without 2D
gets the training-mean pose and is counted; a cache without Test, or a missing image under
--no-fallback, stops it with the command that makes the 2D, and nothing is written."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from predict_weights import write_lifter

from flows.cli import main
from pose3d.formats.challenge import image_path, list_poses, pose_path, read_pose_csv, read_split
from pose3d.frames import write_frames
from pose3d.keypoints import KeypointRows, Producer, keypoints_table, write_keypoints
from tasks.lifter.inference import load_lifter, predict_lifter

WH = (64, 48)  # the images' width and height


def _jpeg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((WH[1], WH[0], 3), 128, np.uint8))


def _cache(path: Path, split: list[str], frame: list[int], kp2d_px: np.ndarray) -> Path:
    box = np.tile([5.0, 5.0, 50.0, 40.0], (len(frame), 1))
    box[1] = np.nan  # no person found: the whole image was used
    table = keypoints_table(KeypointRows(
        source="infer_2d_cr", dataset="challenge", split=split, subject="", action="",
        camera="", frame=np.array(frame), kp2d_px=kp2d_px, box_xyxy_px=box, image_wh=WH,
    ))  # fmt: skip
    write_keypoints(table, path, Producer("test", "0"))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | np.ndarray]:
    """Test/IMG 00001-00004 in extract's table, 00005 added after (as `on_error: skip` leaves a
    bad one out); the cache: Test 1, 2, 4 (2 with no person), 9 (not an image), and Train 1."""
    root = tmp_path_factory.mktemp("submit")
    for number in range(1, 5):
        _jpeg(image_path(root / "challenge", "Test", number))
    frames = root / "extract" / "challenge.parquet"
    write_frames(read_split(root / "challenge", "Test"), frames, source={}, producer={})
    _jpeg(image_path(root / "challenge", "Test", 5))
    kp = np.random.default_rng(0).uniform(10, 45, (5, 17, 2))
    kp[0, 9] = np.nan  # a joint missing: lifted as its training mean
    cache = _cache(root / "cr.parquet", ["Test"] * 4 + ["Train"], [1, 2, 4, 9, 1], kp)
    train_only = _cache(root / "train_only.parquet", ["Train"] * 5, [1, 2, 3, 4, 5], kp)
    lifter = write_lifter(root / "lifter.pt")
    return {"root": root, "frames": frames, "cache": cache, "train_only": train_only,
            "lifter": lifter, "kp": kp}  # fmt: skip


def _submit(run: dict, out: Path, *extra: str, cache: str = "cache") -> int:
    return main(["submit", "--keypoints", str(run[cache]), "--lifter", str(run["lifter"]),
                 "--frames", str(run["frames"]), "-o", str(out), "--device", "cpu",
                 *extra])  # fmt: skip


def test_every_test_image_gets_a_csv_that_reads_back_as_the_prediction(
    run: dict, tmp_path: Path
) -> None:
    out = tmp_path / "submission"
    assert _submit(run, out, "--zip") == 0
    assert list_poses(out, "Test") == [1, 2, 3, 4, 5]
    lifter = load_lifter(run["lifter"], 17, torch.device("cpu"))
    lifted = predict_lifter(lifter, run["kp"][:3].astype(np.float32), np.tile(WH, (3, 1)))
    for number, pose in zip([1, 2, 4], lifted, strict=True):
        np.testing.assert_allclose(read_pose_csv(pose_path(out, "Test", number)), pose, atol=1e-6)
    mean = np.vstack([np.zeros(3), lifter.stats.mean_3d.reshape(16, 3)])  # the fallback
    for number in (3, 5):
        np.testing.assert_allclose(read_pose_csv(pose_path(out, "Test", number)), mean, atol=1e-6)
    text = pose_path(out, "Test", 1).read_text()
    assert text.splitlines()[0] == "0.000000,0.000000,0.000000" and len(text.splitlines()) == 17
    summary = json.loads((out / "summary.json").read_text())
    assert {k: summary[k] for k in ("split", "images", "images_in_table", "lifted", "no_person",
                                    "missing_joints", "cache_rows_unmatched")} == {
        "split": "Test", "images": 5, "images_in_table": 4, "lifted": 3, "no_person": 1,
        "missing_joints": 1, "cache_rows_unmatched": 1,
    }  # fmt: skip
    assert summary["fallback"]["count"] == 2 and summary["fallback"]["images"] == [3, 5]
    assert (
        summary["lifter"]["path"] == str(run["lifter"]) and len(summary["lifter"]["sha256"]) == 64
    )
    assert summary["keypoints"]["path"] == str(run["cache"])
    with zipfile.ZipFile(out / "submission.zip") as archive:
        assert archive.namelist() == [f"Test/POSE/{n:05d}.csv" for n in range(1, 6)]
        assert archive.read("Test/POSE/00004.csv") == pose_path(out, "Test", 4).read_bytes()


def test_a_cache_without_test_stops_naming_the_split_and_the_command(
    run: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "submission"
    out.mkdir()
    (out / "summary.json").write_text("{}")  # an earlier submission: left as it was
    assert _submit(run, out, cache="train_only") == 1
    assert "no 2D for the Test split (the cache holds challenge splits ['Train'])" in caplog.text
    assert "all 4 Test images" in caplog.text
    assert "add Test to infer_2d.splits" in caplog.text and "dvc repro infer_2d" in caplog.text
    assert [p.name for p in out.iterdir()] == ["summary.json"]


def test_no_fallback_refuses_images_without_2d(
    run: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "submission"
    assert _submit(run, out, "--no-fallback") == 1
    assert "2 of 5 Test images have no 2D (first: 00003, 00005; 1 of them not in" in caplog.text
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing half written
    elsewhere = tmp_path / "notes"
    elsewhere.mkdir()
    (elsewhere / "todo.txt").write_text("mine")
    assert _submit(run, elsewhere) == 1  # a folder that is not a submission is not replaced
    assert "not empty and not a submission" in caplog.text
    assert (elsewhere / "todo.txt").read_text() == "mine"
