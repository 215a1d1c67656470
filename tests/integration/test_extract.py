"""The `extract` stage on a tiny Human3.6M + challenge tree built here, and on the real data."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from pose3d.camera import Camera, look_at, project, world_to_camera
from pose3d.config import ExtractConfig
from pose3d.formats import challenge
from pose3d.formats.h36m import poses_path, write_cameras, write_positions
from pose3d.formats.h36m_cdf import cdf_poses_path, write_cdf_positions
from pose3d.formats.video import video_path, write_video
from pose3d.frames import frames_arrays, frames_table, read_frames, write_frames
from pose3d.io import read_parquet_metadata
from pose3d.skeleton import mocap32_to_h36m17
from tasks.extract import extract, extract_challenge, extract_h36m

W, H = 64, 48
CFG = ExtractConfig(
    h36m_subjects=("S1", "S5"),
    cameras=(),
    pose_source="auto",
    frame_stride=2,
    video_frames_per_pose=0,
    decode_frames=True,
    box_margin=0.1,
    challenge_splits=("Train", "Test"),
    jpeg_quality=95,
    on_error="raise",
    workers=2,
)


def _cam(name: str, azimuth: float) -> Camera:
    eye = np.array([4000.0 * np.cos(azimuth), 4000.0 * np.sin(azimuth), 1500.0])
    R = look_at(eye, np.array([0.0, 0.0, 900.0]))
    return Camera(
        name, R, eye, [40.0, 40.0], [W / 2, H / 2], [-0.1, 0.05, 0.0], [1e-3, -1e-3], W, H
    )


def _poses(n: int, seed: int) -> np.ndarray:
    """(n, 32, 3) world mm: a standing cloud of joints around the origin."""
    rng = np.random.default_rng(seed)
    return rng.normal([0.0, 0.0, 900.0], [150.0, 150.0, 400.0], size=(n, 32, 3))


def _grey_video(path: Path, n: int) -> None:
    """Video frame i is a flat grey of 10 * i, so a decoded frame tells its index."""
    write_video(path, (np.full((H, W, 3), 10 * i, np.uint8) for i in range(n)), fps=50.0)


def _h36m_tree(root: Path) -> None:
    cams = {(s, c.name): c for s in ("S1", "S5") for c in (_cam("1001", 0.3), _cam("1002", 2.0))}
    write_cameras(root / "cameras.h5", cams)
    write_positions(poses_path(root, "S1", "Walking 1"), _poses(5, 0))
    _grey_video(video_path(root, "S1", "Walking 1", "1001"), 25)  # 5 video frames per pose
    _grey_video(video_path(root, "S1", "Walking 1", "1002"), 5)  # 1 video frame per pose
    write_cdf_positions(cdf_poses_path(root, "S5", "TakingPhoto"), _poses(3, 1))  # no videos


def _challenge_tree(root: Path) -> None:
    for split, n in (("Train", 2), ("Test", 2)):
        for i in range(1, n + 1):
            path = challenge.image_path(root, split, i)
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.zeros((30, 40, 3), np.uint8))
            if split == "Train":
                challenge.pose_path(root, split, i).parent.mkdir(parents=True, exist_ok=True)
                challenge.write_pose_csv(challenge.pose_path(root, split, i), np.full((17, 3), i))
    sidecar = frames_table(
        dataset="challenge", split="Test", subject="S11", action="Walking", camera="1001",
        frame=[1, 2], image_path=["Test/IMG/00001.jpg", "Test/IMG/00002.jpg"],
        pose3d_cam_mm=np.full((2, 17, 3), 7.0),
    )  # fmt: skip
    write_frames(sidecar, challenge.sidecar_path(root, "Test"), {}, {})


def _manifest(path: Path) -> dict[str, str]:
    """image path -> md5, from an ``<md5>  <path>`` manifest."""
    rows = [line.split("  ", 1) for line in path.read_text().splitlines()]
    assert [p for _, p in rows] == sorted(p for _, p in rows)
    return {p: md5 for md5, p in rows}


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture()
def trees(tmp_path: Path) -> tuple[Path, Path]:
    _h36m_tree(tmp_path / "h36m")
    _challenge_tree(tmp_path / "challenge")
    return tmp_path / "h36m", tmp_path / "challenge"


def test_extract_h36m(trees, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # image paths are stored relative to the working directory
    summary = extract_h36m(trees[0], CFG, "out")
    table = read_frames(tmp_path / "out/h36m.parquet")
    a = frames_arrays(table)
    # S1: frames 0, 2, 4 x 2 cameras; S5 (CDF, release spelling): frames 0, 2 x 2 cameras
    assert summary.rows == table.num_rows == 10 and summary.images_written == 6
    s1 = a["subject"] == "S1"
    assert a["frame"][s1].tolist() == [0, 2, 4, 0, 2, 4]
    assert set(a["action"][~s1]) == {"Photo"} and all(p is None for p in a["image_path"][~s1])
    # decoded images: frame f of camera 1001 is video frame 5 f, of camera 1002 video frame f
    for i in np.flatnonzero(s1):
        ratio = 5 if a["camera"][i] == "1001" else 1
        path = a["image_path"][i]
        assert path == f"out/h36m_images/S1/Walking_1.{a['camera'][i]}/{a['frame'][i]:06d}.jpg"
        grey = float(cv2.imread(str(tmp_path / path)).mean())
        assert int(np.argmin(np.abs(grey - 10.0 * np.arange(26)))) == ratio * a["frame"][i]
    # geometry: 3D = camera-frame joints minus root, 2D = distorted projection
    pose17 = mocap32_to_h36m17(_poses(5, 0)[[0, 2, 4]])
    full = world_to_camera(pose17, _cam("1001", 0.3))
    cam1 = s1 & (a["camera"] == "1001")
    np.testing.assert_allclose(a["root_cam_mm"][cam1], full[:, 0], atol=1e-2)
    np.testing.assert_allclose(a["pose3d_cam_mm"][cam1], full - full[:, :1], atol=1e-2)
    np.testing.assert_allclose(a["kp2d_px"][cam1], project(full, _cam("1001", 0.3)), atol=1e-3)
    assert (a["image_width"] == W).all() and (a["box_xyxy_px"][:, 2:] <= [W, H]).all()
    meta = read_parquet_metadata(tmp_path / "out/h36m.parquet")
    assert meta["source"]["pose_sources"] == {"S1": "h5", "S5": "cdf"}
    assert meta["producer"]["params"]["extract"]["frame_stride"] == 2
    saved = json.loads((tmp_path / "out/h36m_summary.json").read_text())
    assert saved["rows"] == 10 and saved["skipped_count"] == 0
    # the manifest the image-reading stages depend on: every image once, by its stored path
    manifest = _manifest(tmp_path / "out/h36m_images.md5")
    images = {p for p in a["image_path"] if p is not None}
    assert set(manifest) == images and len(images) == 6
    assert all(manifest[p] == _md5(tmp_path / p) for p in images)
    check = subprocess.run(["md5sum", "-c", "--quiet", "out/h36m_images.md5"], cwd=tmp_path)
    assert check.returncode == 0


def test_extract_challenge(trees, tmp_path) -> None:
    summary = extract_challenge(trees[1], CFG, tmp_path / "out")
    df = pd.read_parquet(tmp_path / "out/challenge.parquet")  # plain pandas reads it
    assert summary.rows == len(df) == 4
    assert df["split"].tolist() == ["Train", "Train", "Test", "Test"]
    assert df["image_path"][0] == (trees[1] / "Train/IMG/00001.jpg").as_posix()  # outside cwd
    assert list(df["pose3d_cam_mm"][1][:3]) == [2.0, 2.0, 2.0]  # from the CSV
    assert list(df["pose3d_cam_mm"][3][:3]) == [7.0, 7.0, 7.0]  # Test: from the sidecar
    assert df["subject"].tolist() == ["", "", "S11", "S11"] and df["box_xyxy_px"][0] is None
    manifest = _manifest(tmp_path / "out/challenge_images.md5")
    assert set(manifest) == set(df["image_path"])
    assert all(manifest[p] == _md5(Path(p)) for p in manifest)


def test_a_changed_image_changes_the_manifest_only_there(trees, tmp_path) -> None:
    extract_challenge(trees[1], CFG, tmp_path / "out")
    before = _manifest(tmp_path / "out/challenge_images.md5")
    changed = challenge.image_path(trees[1], "Test", 2)
    cv2.imwrite(str(changed), np.full((30, 40, 3), 200, np.uint8))  # same path, other pixels
    extract_challenge(trees[1], CFG, tmp_path / "out")
    after = _manifest(tmp_path / "out/challenge_images.md5")
    assert [p for p in before if before[p] != after[p]] == [changed.as_posix()]


def test_disabled_readers_write_empty_tables(tmp_path) -> None:
    cfg = dataclasses.replace(CFG, h36m_subjects=(), challenge_splits=())
    assert extract_h36m(tmp_path / "absent", cfg, tmp_path / "out").rows == 0
    assert extract_challenge(tmp_path / "absent", cfg, tmp_path / "out").rows == 0
    assert read_frames(tmp_path / "out/h36m.parquet").num_rows == 0
    assert read_frames(tmp_path / "out/challenge.parquet").num_rows == 0
    # every file dvc.yaml names exists, empty
    assert (tmp_path / "out/h36m_cameras.h5").is_file()
    assert (tmp_path / "out/h36m_images.md5").read_text() == ""
    assert (tmp_path / "out/challenge_images.md5").read_text() == ""


def test_missing_or_empty_roots_name_the_fix(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="Human3.6M root not found.*h36m_subjects=\\[\\]"):
        extract_h36m(tmp_path / "absent", CFG, tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="cameras.h5: cameras file not found"):
        extract_h36m(tmp_path / "empty", CFG, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="Train/IMG: no such folder.*splits found"):
        extract_challenge(tmp_path / "empty", CFG, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _break_inputs(h36m: Path, chal: Path) -> None:
    pose = _poses(4, 2)
    pose[1, 3] = np.nan  # frame 1: not kept at stride 2, so not an error
    pose[2, 0] = np.nan  # frame 2: kept, so a bad input
    write_positions(poses_path(h36m, "S1", "Eating"), pose)
    good = poses_path(h36m, "S1", "Walking 1").read_bytes()
    poses_path(h36m, "S1", "Greeting").write_bytes(good[: len(good) // 2])  # truncated h5
    video_path(h36m, "S1", "Walking 1", "1002").write_bytes(b"\x00" * 2048)  # corrupt video
    challenge.pose_path(chal, "Train", 2).write_text("1,2,3\n" * 16)  # 16 rows


def test_bad_inputs_raise_naming_the_file(trees, tmp_path) -> None:
    extract_h36m(trees[0], CFG, tmp_path / "out")
    before = (tmp_path / "out/h36m.parquet").read_bytes()
    _break_inputs(*trees)
    with pytest.raises(ValueError, match="Eating.h5: 1 pose frame\\(s\\) with NaN.*frame 2"):
        extract_h36m(trees[0], CFG, tmp_path / "out")
    with pytest.raises(ValueError, match="00002.csv: expected 17 rows of x,y,z, found 16"):
        extract_challenge(trees[1], CFG, tmp_path / "out")
    # nothing half written: the old table and images stay, no temporary files are left
    assert (tmp_path / "out/h36m.parquet").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "h36m.parquet",
        "h36m_cameras.h5",
        "h36m_images",
        "h36m_images.md5",
        "h36m_summary.json",
    ]


def test_a_failed_stage_leaves_the_previous_outputs_whole(trees, tmp_path) -> None:
    out = tmp_path / "out"
    extract(CFG, trees, out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"h36m.parquet", "challenge.parquet", "h36m_cameras.h5"} <= set(before)
    challenge.pose_path(trees[1], "Train", 2).write_text("1,2,3\n" * 16)  # the second reader fails
    with pytest.raises(ValueError, match="00002.csv"):
        extract(CFG, trees, out)
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before  # no new h36m.parquet beside the old challenge.parquet
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_bad_inputs_are_skipped_and_counted(trees, tmp_path) -> None:
    _break_inputs(*trees)
    cfg = dataclasses.replace(CFG, on_error="skip")
    summary = extract_h36m(trees[0], cfg, tmp_path / "out")
    reasons = {Path(s["file"]).name: s["reason"] for s in summary.skipped}
    assert set(reasons) == {
        "Eating.h5",  # NaN frame
        "Eating.1001.mp4",  # missing (S1 has a Videos folder)
        "Eating.1002.mp4",
        "Greeting.h5",  # truncated
        "Walking 1.1002.mp4",  # corrupt
    }
    assert "not a readable HDF5" in reasons["Greeting.h5"]
    assert "not a readable video" in reasons["Walking 1.1002.mp4"]
    a = frames_arrays(read_frames(tmp_path / "out/h36m.parquet"))
    eating = a["action"] == "Eating"
    assert a["frame"][eating].tolist() == [0, 0]  # frame 2 (NaN) left out, both cameras
    walking_1002 = (a["action"] == "Walking 1") & (a["camera"] == "1002")
    assert walking_1002.sum() == 3 and all(p is None for p in a["image_path"][walking_1002])
    saved = json.loads((tmp_path / "out/h36m_summary.json").read_text())
    assert saved["skipped_count"] == 5 and saved["rows"] == 10 + 2
    chal = extract_challenge(trees[1], cfg, tmp_path / "out")
    assert chal.rows == 3 and [Path(s["file"]).name for s in chal.skipped] == ["00002.csv"]


def test_truncated_challenge_image_raises_or_is_a_counted_skip(trees, tmp_path) -> None:
    path = challenge.image_path(trees[1], "Train", 1)
    smooth = cv2.GaussianBlur(np.random.default_rng(0).random((300, 400, 3)) * 255, (0, 0), 3)
    cv2.imwrite(str(path), smooth.astype(np.uint8))
    path.write_bytes(path.read_bytes()[:3000])  # the JPEG header survives, the pixels do not
    with pytest.raises(ValueError, match=r"Train/IMG/00001.jpg: truncated JPEG"):
        extract_challenge(trees[1], CFG, tmp_path / "out")
    cfg = dataclasses.replace(CFG, on_error="skip")
    summary = extract_challenge(trees[1], cfg, tmp_path / "out")
    assert summary.rows == 3 and [Path(s["file"]).name for s in summary.skipped] == ["00001.jpg"]
    saved = json.loads((tmp_path / "out/challenge_summary.json").read_text())
    assert saved["skipped_count"] == 1 and "truncated JPEG" in saved["skipped"][0]["reason"]


def test_an_image_the_2d_route_would_refuse_is_refused_here(trees, tmp_path) -> None:
    """``infer_2d.max_pixels`` holds for extract too: no image is listed that infer_2d refuses."""
    path = challenge.image_path(trees[1], "Train", 2)
    cv2.imwrite(str(path), np.zeros((50, 60, 3), np.uint8))  # 3000 pixels; the others 1200
    with pytest.raises(ValueError, match=r"Train/IMG/00002.jpg: .*max_pixels is 2000"):
        extract_challenge(trees[1], CFG, tmp_path / "out", max_pixels=2000)
    summary = extract_challenge(trees[1], dataclasses.replace(CFG, on_error="skip"),
                                tmp_path / "out", max_pixels=2000)  # fmt: skip
    assert summary.rows == 3 and [Path(s["file"]).name for s in summary.skipped] == ["00002.jpg"]


@pytest.mark.real_data
def test_real_h36m_frame_matches_the_official_labels(shared_data, tmp_path) -> None:
    cfg = dataclasses.replace(CFG, h36m_subjects=("S1",), cameras=("54138969",), frame_stride=1)
    extract_h36m(shared_data / "h36m", cfg, tmp_path)
    a = frames_arrays(read_frames(tmp_path / "h36m.parquet"))
    i = np.flatnonzero((a["action"] == "Directions 1") & (a["frame"] == 0))[0]
    ref = np.load(shared_data / "h36m_frames" / "test_h36m_body3d.npz")
    np.testing.assert_allclose(a["kp2d_px"][i], ref["part"][0, :, :2], atol=0.01)
    full_mm = a["pose3d_cam_mm"][i].astype(np.float64) + a["root_cam_mm"][i]
    np.testing.assert_allclose(full_mm, ref["S"][0, :, :3] * 1000.0, atol=0.01)
    assert a["image_path"][i] is None and (a["image_width"][i], a["image_height"][i]) == (
        1000,
        1002,
    )


@pytest.mark.real_data
def test_real_challenge_sample(shared_data, tmp_path) -> None:
    root = shared_data / "challenge_sample"
    cfg = dataclasses.replace(CFG, challenge_splits=("Val",))
    extract_challenge(root, cfg, tmp_path)
    a = frames_arrays(read_frames(tmp_path / "challenge.parquet"))
    index = json.loads((root / "index.json").read_text())
    assert a["frame"].tolist() == [int(e["file"]) for e in index] == [1, 2, 3, 4]
    for i, entry in enumerate(index):
        csv = np.loadtxt(root / "Val" / "POSE" / f"{entry['file']}.csv", delimiter=",")
        np.testing.assert_allclose(a["pose3d_cam_mm"][i], csv, atol=1e-3)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("pose_source", "json", "extract.pose_source: expected one of"),
        ("on_error", "ignore", "extract.on_error: expected one of"),
        ("frame_stride", 0, "extract.frame_stride: expected >= 1"),
        ("jpeg_quality", 101, "extract.jpeg_quality: expected 1..100"),
        ("box_margin", -0.1, "extract.box_margin"),
        ("workers", -1, "extract.workers"),
    ],
)
def test_bad_extract_params_name_the_key(key, value, message) -> None:
    from pose3d.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        dataclasses.replace(CFG, **{key: value})
