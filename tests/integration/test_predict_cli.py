"""`pose3d predict` (flows.cli) end to end on untrained checkpoints: images, a folder and a
video to one valid JSON file and figures; unreadable inputs named and skipped; a clear message
without weights; given 2D (JSON, COCO-17 JSON, a keypoint cache) lifted."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest
from predict_weights import write_lifter, write_weights

from flows.cli import main
from pose3d.formats.video import write_video
from pose3d.keypoints import KeypointRows, Producer, keypoints_table, write_keypoints
from pose3d.predictions import validate_predictions


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_weights(tmp_path_factory.mktemp("weights"))


def _image(seed: int, size: tuple[int, int] = (64, 80)) -> np.ndarray:
    """A dark upright rectangle (the "person") on noise. Shapes: -> (H, W, 3) uint8 BGR."""
    rng = np.random.default_rng(seed)
    image = rng.integers(150, 230, (*size, 3), dtype=np.uint8)
    image[10:55, 30:45] = (40, 60, 120)
    return image


def _read(path: Path) -> dict:
    doc = json.loads(path.read_text())
    validate_predictions(doc, str(path))
    return doc


def test_images_a_folder_and_a_video_give_one_valid_json_and_figures(
    weights: Path, tmp_path: Path, torch_one_thread: None, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"im{i}.png"), _image(i))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a JPEG at all")
    (folder / "notes.txt").write_text("not an input")  # not an image suffix: not listed
    (folder / "more").mkdir()  # not looked into, and the log says so
    cv2.imwrite(str(folder / "more" / "im9.png"), _image(9))
    video = tmp_path / "clip.mp4"
    write_video(video, [_image(10 + i) for i in range(3)], fps=10.0)
    out, figures = tmp_path / "pred.json", tmp_path / "figs"
    args = ["predict", str(folder), str(video), "-o", str(out), "--figures", str(figures),
            "--weights-dir", str(weights), "--device", "cpu", "--batch-size", "2"]  # fmt: skip
    assert main(args) == 0
    doc = _read(out)
    assert [(Path(f["source"]).name, f["frame"]) for f in doc["frames"]] == [
        ("im0.png", 0), ("im1.png", 0), ("clip.mp4", 0), ("clip.mp4", 1), ("clip.mp4", 2)
    ]  # fmt: skip
    assert [Path(e["source"]).name for e in doc["errors"]] == ["broken.jpg"]
    assert "broken.jpg" in caplog.text
    assert f"{folder}: subfolders not looked into (more)" in caplog.text
    assert set(doc["weights"]) == {"detector", "cpn", "lifter"}
    assert all(len(w["sha256"]) == 64 for w in doc["weights"].values())
    for frame in doc["frames"]:
        assert frame["image_wh"] == [80, 64]
        assert np.isfinite(np.array(frame["kp2d_px"], float)).all()
        np.testing.assert_array_equal(frame["pose3d_cam_mm"][0], [0, 0, 0])  # root-relative
    assert len(list(figures.glob("*.png"))) == 5


def test_missing_weights_are_named_with_the_command_that_makes_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), _image(0))
    out = tmp_path / "pred.json"
    args = ["predict", str(image), "--weights-dir", str(tmp_path / "none"), "-o", str(out)]
    assert main(args) == 1
    assert "train_detector/checkpoint.pt: no detector checkpoint yet" in caplog.text
    assert "make run" in caplog.text and not out.exists()


def test_nothing_readable_exits_nonzero_and_writes_nothing(
    weights: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    out = tmp_path / "pred.json"
    args = ["predict", str(bad), str(tmp_path / "missing.mp4"), "--weights-dir", str(weights),
            "-o", str(out), "--device", "cpu"]  # fmt: skip
    assert main(args) == 1
    assert "empty.jpg: empty file" in caplog.text and "missing.mp4" in caplog.text
    assert "no frame could be read" in caplog.text and not out.exists()


def _lift(keypoints: Path, lifter: Path, out: Path) -> int:
    return main(["predict", "--keypoints", str(keypoints), "--lifter", str(lifter), "-o", str(out),
                 "--device", "cpu"])  # fmt: skip


def _kp_h36m(n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.uniform(10, 54, (n, 17, 2))


@pytest.mark.parametrize("floor_input", [False, True])
def test_given_2d_json_is_lifted_with_the_lifter_given(tmp_path: Path, floor_input: bool) -> None:
    lifter = write_lifter(tmp_path / "lifter.pt", floor_input=floor_input)
    kp = _kp_h36m(3).tolist()
    kp[1][9] = None  # a missing joint
    given = {"format": "h36m17", "frames": [
        {"kp2d_px": kp[0], "image_wh": [64, 64], "source": "cam1", "frame": 7},
        {"kp2d_px": kp[1]}, {"kp2d_px": kp[2], "scores": [0.5] * 17},
    ]}  # fmt: skip
    path = tmp_path / "given.json"
    path.write_text(json.dumps(given))
    out = tmp_path / "pred.json"
    assert _lift(path, lifter, out) == 0
    doc = _read(out)
    assert set(doc["weights"]) == {"lifter"}
    frames = doc["frames"]
    assert [(f["source"], f["frame"]) for f in frames] == [
        ("cam1", 7),
        (str(path), 1),
        (str(path), 2),
    ]
    assert frames[0]["image_wh"] == [64, 64] and frames[1]["image_wh"] is None
    assert frames[1]["kp2d_px"][9] == [None, None] and frames[1]["scores"][9] == 0
    assert frames[2]["scores"] == [0.5] * 17 and frames[0]["person_found"] is None
    assert np.isfinite(np.array([f["pose3d_cam_mm"] for f in frames], float)).all()
    again = tmp_path / "again.json"  # a predictions file is itself a valid input
    assert _lift(out, lifter, again) == 0
    assert _read(again)["frames"][0]["pose3d_cam_mm"] == frames[0]["pose3d_cam_mm"]


def test_a_lifter_with_min_score_takes_low_scored_joints_as_missing(tmp_path: Path) -> None:
    lifter = write_lifter(tmp_path / "lifter.pt", min_score=0.3)
    kp = _kp_h36m(1)[0].tolist()
    doubtful = [1.0] * 17
    doubtful[12] = 0.1  # the left elbow, barely seen
    missing = list(kp)
    missing[12] = None
    given = {"format": "h36m17", "frames": [
        {"kp2d_px": kp, "image_wh": [64, 64]},
        {"kp2d_px": kp, "image_wh": [64, 64], "scores": doubtful},
        {"kp2d_px": missing, "image_wh": [64, 64]},
    ]}  # fmt: skip
    path = tmp_path / "given.json"
    path.write_text(json.dumps(given))
    assert _lift(path, lifter, tmp_path / "pred.json") == 0
    pose = [np.array(f["pose3d_cam_mm"], float) for f in _read(tmp_path / "pred.json")["frames"]]
    np.testing.assert_allclose(pose[1], pose[2], atol=1e-3)  # as if the elbow were not given
    assert np.abs(pose[0] - pose[1]).max() > 1e-2  # and not as if it were trusted


def test_coco17_json_and_a_keypoint_cache_are_lifted(tmp_path: Path) -> None:
    lifter = write_lifter(tmp_path / "lifter.pt")
    coco = _kp_h36m(2)  # any 17 points, read as COCO-17
    path = tmp_path / "coco.json"
    path.write_text(json.dumps({"format": "coco17", "image_wh": [64, 64],
                                "frames": [{"kp2d_px": k.tolist()} for k in coco]}))  # fmt: skip
    out = tmp_path / "coco_pred.json"
    assert _lift(path, lifter, out) == 0
    frames = _read(out)["frames"]
    np.testing.assert_allclose(frames[0]["kp2d_px"][0], (coco[0, 11] + coco[0, 12]) / 2, atol=0.01)
    cache = tmp_path / "cache.parquet"
    table = keypoints_table(KeypointRows(
        source="mine", dataset="challenge", split="Val", subject="S9", action="Walk",
        camera="c1", frame=np.arange(2), kp2d_px=_kp_h36m(2), image_wh=(64, 64),
    ))  # fmt: skip
    write_keypoints(table, cache, Producer("test", "0"))
    out = tmp_path / "cache_pred.json"
    assert _lift(cache, lifter, out) == 0
    frames = _read(out)["frames"]
    assert [(f["source"], f["frame"]) for f in frames] == [("S9/Walk/c1", 0), ("S9/Walk/c1", 1)]


def test_a_bad_keypoints_file_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lifter = write_lifter(tmp_path / "lifter.pt")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"kp2d_px": [[1, 2]] * 16}]))
    assert _lift(path, lifter, tmp_path / "pred.json") == 1
    assert "bad.json: frames[0].kp2d_px: expected shape (17, 2), got (16, 2)" in caplog.text


@pytest.mark.parametrize(
    ("joint", "said"),
    [
        ("NaN", "frames[0].kp2d_px[5][0]: 'NaN' is not a number; write null for a missing value"),
        (float("nan"), "frames[0].kp2d_px[5][0]: nan is not a finite number; write null"),
        (True, "frames[0].kp2d_px[5][0]: True is not a number"),
    ],
)
def test_only_null_marks_a_missing_joint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, joint: object, said: str
) -> None:
    """A string, a boolean or a NaN literal is refused by frame, joint and coordinate; a null
    joint is lifted as its training mean, and the log says which frame missed which joint."""
    lifter = write_lifter(tmp_path / "lifter.pt")
    kp = _kp_h36m(1).tolist()
    kp[0][5] = [joint, 3.0]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps([{"kp2d_px": kp[0]}]))  # json writes float("nan") as NaN
    assert _lift(path, lifter, tmp_path / "pred.json") == 1
    assert f"odd.json: {said}" in caplog.text
    assert not (tmp_path / "pred.json").exists()
    kp[0][5] = None
    path.write_text(json.dumps([{"kp2d_px": kp[0]}, {"kp2d_px": _kp_h36m(1).tolist()[0]}]))
    caplog.clear()
    assert _lift(path, lifter, tmp_path / "pred.json") == 0
    assert "1 of 2 frames miss joints the lifter reads" in caplog.text
    assert f"(first: {path} frame 0, LKnee)" in caplog.text


def test_the_console_script_is_declared(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["pose3d"] == "flows.cli:main"
