"""pose3d.formats.challenge: CSV poses, JPEG headers, splits, the sidecar and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose3d.formats.challenge import (
    image_path,
    jpeg_size,
    list_images,
    list_poses,
    pose_path,
    read_pose_csv,
    read_split,
    sidecar_path,
    write_pose_csv,
)
from pose3d.frames import frames_arrays, frames_table, write_frames


def _jpeg(path: Path, width: int = 40, height: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), 128, np.uint8))


def _pose(seed: int) -> np.ndarray:
    pose = np.random.default_rng(seed).normal(0, 200, size=(17, 3))
    return pose - pose[:1]


def _split(root: Path, split: str, n: int, poses: bool = True) -> list[np.ndarray]:
    out = []
    for i in range(1, n + 1):
        _jpeg(image_path(root, split, i))
        if poses:
            pose_path(root, split, i).parent.mkdir(parents=True, exist_ok=True)
            write_pose_csv(pose_path(root, split, i), _pose(i))
            out.append(_pose(i))
    return out


def test_paths() -> None:
    assert image_path("r", "Val", 7) == Path("r/Val/IMG/00007.jpg")
    assert pose_path("r", "Train", 12345) == Path("r/Train/POSE/12345.csv")
    assert sidecar_path("r", "Test") == Path("r/_labels/Test.parquet")


def test_csv_round_trip(tmp_path) -> None:
    path = tmp_path / "00001.csv"
    write_pose_csv(path, _pose(0))
    np.testing.assert_allclose(read_pose_csv(path), _pose(0), atol=1e-6)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3\n" * 16, "expected 17 rows of x,y,z, found 16 rows"),
        ("1,2,3\n" * 16 + "1,2\n", "row 17 has 2 fields"),
        ("1,2,3\n" * 5 + "1,x,3\n" + "1,2,3\n" * 11, "row 6 is not 3 numbers"),
        ("1,2,3\n" * 3 + "nan,2,3\n" + "1,2,3\n" * 13, "row 4 has a NaN"),
    ],
)
def test_bad_csv_names_file_and_problem(tmp_path, text, message) -> None:
    path = tmp_path / "00009.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        read_pose_csv(path)
    assert "00009.csv" in str(err.value)


def test_missing_csv(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="00001.csv"):
        read_pose_csv(tmp_path / "00001.csv")


def test_jpeg_size_and_corrupt_images(tmp_path) -> None:
    good = tmp_path / "good.jpg"
    _jpeg(good, 40, 30)
    assert jpeg_size(good) == (40, 30)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"this is not a jpeg at all")
    with pytest.raises(ValueError, match="corrupt.jpg: not a JPEG"):
        jpeg_size(corrupt)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:6])
    with pytest.raises(ValueError, match="truncated.jpg: corrupt or truncated"):
        jpeg_size(truncated)


def test_read_split_with_and_without_poses(tmp_path) -> None:
    poses = _split(tmp_path, "Val", 3)
    _split(tmp_path, "Test", 2, poses=False)
    assert list_images(tmp_path, "Val") == [1, 2, 3]
    assert list_poses(tmp_path, "Test") is None
    val = frames_arrays(read_split(tmp_path, "Val"))
    assert val["frame"].tolist() == [1, 2, 3]
    assert val["split"].tolist() == ["Val"] * 3 and val["subject"].tolist() == [""] * 3
    np.testing.assert_allclose(val["pose3d_cam_mm"], np.stack(poses), atol=1e-3)
    assert val["image_width"].tolist() == [40] * 3 and np.isnan(val["kp2d_px"]).all()
    assert val["image_path"][0] == (tmp_path / "Val/IMG/00001.jpg").as_posix()
    test = frames_arrays(read_split(tmp_path, "Test"))
    assert np.isnan(test["pose3d_cam_mm"]).all() and len(test["frame"]) == 2


def test_sidecar_fills_labels_and_test_poses(tmp_path) -> None:
    _split(tmp_path, "Test", 2, poses=False)
    kp2d = np.arange(2 * 17 * 2, dtype=float).reshape(2, 17, 2)
    labels = frames_table(
        dataset="challenge",
        split="Test",
        subject=["S11", "S9"],
        action="Walking",
        camera="10000001",
        frame=[2, 1],
        image_path=["Test/IMG/00002.jpg", "Test/IMG/00001.jpg"],
        kp2d_px=kp2d,
        pose3d_cam_mm=np.stack([_pose(2), _pose(1)]),
        root_cam_mm=np.array([[0.0, 0.0, 5000.0], [1.0, 2.0, 4000.0]]),
    )
    write_frames(labels, sidecar_path(tmp_path, "Test"), {}, {})
    out = frames_arrays(read_split(tmp_path, "Test"))
    assert out["subject"].tolist() == ["S9", "S11"]  # matched by image path, not row order
    np.testing.assert_allclose(out["kp2d_px"][0], kp2d[1])
    np.testing.assert_allclose(out["pose3d_cam_mm"][1], _pose(2), atol=1e-3)
    np.testing.assert_allclose(out["root_cam_mm"][0], [1.0, 2.0, 4000.0])


def test_bad_files_raise_or_are_skipped(tmp_path) -> None:
    _split(tmp_path, "Train", 4)
    pose_path(tmp_path, "Train", 2).write_text("1,2,3\n" * 16)  # 16 rows
    image_path(tmp_path, "Train", 3).write_bytes(b"garbage")  # corrupt image
    pose_path(tmp_path, "Train", 4).unlink()  # image without pose
    with pytest.raises(ValueError, match="00002.csv: expected 17 rows"):
        read_split(tmp_path, "Train")
    skipped: list[tuple[Path, str]] = []
    table = read_split(tmp_path, "Train", on_bad=lambda p, r: skipped.append((p, r)))
    assert frames_arrays(table)["frame"].tolist() == [1]
    names = sorted(p.name for p, _ in skipped)
    assert names == ["00002.csv", "00003.jpg", "00004.csv"]


def test_real_challenge_sample(shared_data) -> None:
    root = shared_data / "challenge_sample"
    index = json.loads((root / "index.json").read_text())
    table = frames_arrays(read_split(root, "Val"))
    assert table["frame"].tolist() == [int(entry["file"]) for entry in index]
    for i, entry in enumerate(index):
        csv = read_pose_csv(pose_path(root, "Val", int(entry["file"])))
        np.testing.assert_allclose(table["pose3d_cam_mm"][i], csv, atol=1e-3)
        np.testing.assert_allclose(table["pose3d_cam_mm"][i, 0], 0.0, atol=1e-6)
        # the header size agrees with a full decode (S7's 55011271 frame is 1000 x 1002)
        decoded = cv2.imread(table["image_path"][i])
        assert (table["image_width"][i], table["image_height"][i]) == decoded.shape[1::-1]


def test_read_splits_missing_root_and_split(tmp_path) -> None:
    from pose3d.formats.challenge import read_splits

    with pytest.raises(FileNotFoundError, match="challenge root not found"):
        read_splits(tmp_path / "absent", ["Val"])
    assert read_splits(tmp_path / "absent", []) == []
    _split(tmp_path, "Val", 2)
    with pytest.raises(FileNotFoundError, match=r"Train/IMG: no such folder.*\['Val'\]"):
        read_splits(tmp_path, ["Val", "Train"])
    skipped: list[Path] = []
    tables = read_splits(tmp_path, ["Val", "Train"], on_bad=lambda p, r: skipped.append(p))
    assert [t.num_rows for t in tables] == [2] and skipped == [tmp_path / "Train" / "IMG"]


def test_a_stray_file_costs_its_line_not_its_split(tmp_path) -> None:
    """With skipping on, a Thumbs.db or an upper-case 00007.JPG (not the layout's names) is
    reported by name and passed over; the split's images are all read. Without, it raises by
    name. A split left out as a whole is reported as the split."""
    from pose3d.formats.challenge import read_splits

    _split(tmp_path, "Val", 3)
    (tmp_path / "Val" / "IMG" / "Thumbs.db").write_bytes(b"\0" * 10)
    _jpeg(tmp_path / "Val" / "IMG" / "00007.JPG")
    (tmp_path / "Val" / "POSE" / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"00007.JPG: unexpected file"):
        read_split(tmp_path, "Val")
    skipped: list[tuple[Path, str]] = []
    table = read_split(tmp_path, "Val", on_bad=lambda p, r: skipped.append((p, r)))
    assert frames_arrays(table)["frame"].tolist() == [1, 2, 3]
    assert sorted(p.name for p, _ in skipped) == ["00007.JPG", "Thumbs.db", "notes.txt"]
    assert all("unexpected file" in reason for _, reason in skipped)
    said: list[str] = []
    read_splits(tmp_path, ["Val", "Train"], on_bad=lambda p, r: said.append(r))
    assert said[-1].startswith("challenge split 'Train' left out: ")
