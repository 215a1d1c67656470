"""The `generate` stage on tiny params: the exact Human3.6M and challenge layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from tiny_configs import tiny_generate_config

from pose3d.formats.h36m import read_cameras, read_positions
from pose3d.io import read_parquet_metadata, read_parquet_validated
from pose3d.schema import FRAMES_SCHEMA, FRAMES_SCHEMA_VERSION
from tasks.generate import generate

N_FRAMES = 10  # 0.2 s at 50 fps


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generate")
    summary = generate(tiny_generate_config(), 0, out)
    assert summary.video_frames == 2 * 2 * 2 * N_FRAMES
    assert summary.challenge_images == {"Train": 5, "Val": 5, "Test": 5}
    return out


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_exact_layout(out_dir: Path) -> None:
    assert sorted(p.name for p in out_dir.iterdir()) == ["challenge", "h36m", "summary.json"]
    expected_h36m = {"cameras.h5"}
    for subject in ("S1", "S5"):
        for action in ("Walking", "Bending"):
            expected_h36m.add(f"{subject}/MyPoses/3D_positions/{action}.h5")
            for cam in ("10000001", "10000002"):
                expected_h36m.add(f"{subject}/Videos/{action}.{cam}.mp4")
    assert _files(out_dir / "h36m") == expected_h36m
    expected = {f"_labels/{s}.parquet" for s in ("Train", "Val", "Test")} | {"_labels/cameras.h5"}
    for split in ("Train", "Val", "Test"):
        expected |= {f"{split}/IMG/{n:05d}.jpg" for n in range(1, 6)}
    for split in ("Train", "Val"):
        expected |= {f"{split}/POSE/{n:05d}.csv" for n in range(1, 6)}
    assert _files(out_dir / "challenge") == expected
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["frames_per_sequence"] == N_FRAMES and summary["sequences"] == 4


def test_h36m_cameras_poses_and_videos_agree(out_dir: Path) -> None:
    root = out_dir / "h36m"
    cams = read_cameras(root / "cameras.h5")
    assert set(cams) == {(s, c) for s in ("S1", "S5") for c in ("10000001", "10000002")}
    assert all((c.width, c.height) == (64, 64) for c in cams.values())
    for subject in ("S1", "S5"):
        poses = read_positions(root / subject / "MyPoses" / "3D_positions" / "Walking.h5")
        assert poses.shape == (N_FRAMES, 32, 3)
        np.testing.assert_allclose(poses[:, 0, 2], poses[:, 0, 2].mean(), atol=150.0)
        video = cv2.VideoCapture(str(root / subject / "Videos" / "Walking.10000001.mp4"))
        assert video.get(cv2.CAP_PROP_FPS) == pytest.approx(50.0)
        frames = []
        while True:
            ok, frame = video.read()
            if not ok:
                break
            frames.append(frame)
        video.release()
        assert len(frames) == N_FRAMES  # one video frame per mocap frame
        assert frames[0].shape == (64, 64, 3)


def test_challenge_labels_metadata(out_dir: Path) -> None:
    path = out_dir / "challenge" / "_labels" / "Val.parquet"
    table = read_parquet_validated(path, FRAMES_SCHEMA, FRAMES_SCHEMA_VERSION)
    assert table.num_rows == 5
    meta = read_parquet_metadata(path)
    assert meta["source"]["generator"] == "pose3d.synth" and meta["source"]["seed"] == 0
    assert meta["producer"]["stage"] == "generate"
    cams = read_cameras(out_dir / "challenge" / "_labels" / "cameras.h5")
    assert {("S9", c) for c in table["camera"].to_pylist()} <= set(cams)


def test_same_seed_same_data(out_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_generate_config(h36m_subjects=("S1",))  # the challenge does not depend on these
    generate(cfg, 0, tmp_path)
    for rel in ("h36m/S1/MyPoses/3D_positions/Walking.h5",):
        np.testing.assert_array_equal(read_positions(tmp_path / rel), read_positions(out_dir / rel))
    for rel in ("challenge/Val/IMG/00003.jpg", "challenge/Train/POSE/00002.csv"):
        assert (tmp_path / rel).read_bytes() == (out_dir / rel).read_bytes()


def test_one_seed_gives_the_same_bytes_in_every_file(tmp_path: Path) -> None:
    """What DVC hashes: a second clone regenerating the world must find the stages after
    `generate` up to date (summary.json held the wall time). Both runs write to one path, as
    the stage does."""
    cfg, out = tiny_generate_config(), tmp_path / "world"
    generate(cfg, 3, out)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    shutil.rmtree(out)
    generate(cfg, 3, out)
    second = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert Path("summary.json") in first and len(first) > 20
    assert sorted(first) == sorted(second)
    assert [f for f in first if first[f] != second[f]] == []
