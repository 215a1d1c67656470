"""The `import_keypoints` stage's functions on tiny inputs (and on the real S1 detections)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pose3d import keypoints as kps
from pose3d.camera import Camera, project_world
from pose3d.config import ConfigError, load_params
from pose3d.formats import npz2d
from pose3d.formats import stacked_hourglass as sh
from pose3d.formats.h36m import poses_path, read_cameras, read_positions, write_cameras
from pose3d.frames import empty_frames, frames_table, write_frames
from pose3d.io import read_parquet_metadata
from pose3d.skeleton import MPII16_TO_H36M17, mocap32_to_h36m17
from tasks.import_keypoints import (
    compare_sources,
    import_gt,
    import_npz,
    import_stacked_hourglass,
)

CAM = "54138969"


def _gt_kp(n: int) -> np.ndarray:
    r, j, a = np.meshgrid(np.arange(n), np.arange(17), np.arange(2), indexing="ij")
    return (100.0 + 10.0 * r + 20.0 * j + a).astype(np.float32)


def _tiny_extract(folder: Path) -> np.ndarray:
    """h36m.parquet: 5 frames, frame 2 without 2D, frame 3 with LWrist (13) missing;
    challenge.parquet: 2 images without 2D. Returns the h36m 2D. Shapes: (5, 17, 2)."""
    kp = _gt_kp(5)
    kp[2] = np.nan
    kp[3, 13] = np.nan
    h36m = frames_table(
        dataset="h36m",
        split="",
        subject="S1",
        action="Directions 1",
        camera=CAM,
        frame=np.arange(5),
        image_width=1000,
        image_height=1002,
        box_xyxy_px=np.tile([10.0, 20.0, 500.0, 900.0], (5, 1)),
        kp2d_px=kp,
    )
    challenge = frames_table(
        dataset="challenge", split="Val", subject="", action="", camera="", frame=np.arange(2)
    )
    write_frames(h36m, folder / "h36m.parquet", source={}, producer={})
    write_frames(challenge, folder / "challenge.parquet", source={}, producer={})
    return kp


def _tiny_sh_root(root: Path) -> None:
    """The GT of `_tiny_extract` shifted by (3, 4) px, as MPII-16 detections, frame 2 included."""
    kp16 = _gt_kp(5)[:, list(MPII16_TO_H36M17)] + np.array([3.0, 4.0])
    sh.write_sh_poses(sh.sh_path(root, "S1", "Directions 1", CAM), kp16)
    cam = Camera(
        CAM, np.eye(3), np.zeros(3), np.ones(2), np.zeros(2), np.zeros(3), np.zeros(2), 640, 480
    )
    write_cameras(root / "cameras.h5", {("S1", CAM): cam})


def test_gt_and_stacked_hourglass_import_join_and_compare(tmp_path: Path) -> None:
    gt_kp = _tiny_extract(tmp_path / "extract")
    _tiny_sh_root(tmp_path / "h36m")
    out = tmp_path / "import_keypoints"

    gt_sum = import_gt(tmp_path / "extract", out / "gt.parquet")
    assert (gt_sum.rows, gt_sum.skipped_rows, gt_sum.sequences) == (4, 3, 1)
    assert gt_sum.missing_joints == 1
    gt = kps.read_keypoints(out / "gt.parquet")
    arrays = kps.keypoints_to_arrays(gt)
    np.testing.assert_array_equal(arrays.frame, [0, 1, 3, 4])
    np.testing.assert_array_equal(arrays.kp2d_px, gt_kp[[0, 1, 3, 4]])
    assert arrays.scores[2, 13] == 0 and arrays.scores.sum() == 4 * 17 - 1
    np.testing.assert_array_equal(arrays.box_xyxy_px[0], [10, 20, 500, 900])
    np.testing.assert_array_equal(arrays.image_wh[0], [1000, 1002])

    sh_sum = import_stacked_hourglass(tmp_path / "h36m", out / "stacked_hourglass.parquet")
    assert (sh_sum.rows, sh_sum.sequences, sh_sum.missing_joints) == (5, 1, 5)  # Neck x 5
    det = kps.read_keypoints(out / "stacked_hourglass.parquet")
    det_arrays = kps.keypoints_to_arrays(det)
    np.testing.assert_array_equal(det_arrays.image_wh[0], [640, 480])  # from cameras.h5
    assert det.column("action")[0].as_py() == "Directions 1"  # pose-file spelling
    meta = read_parquet_metadata(out / "stacked_hourglass.parquet")
    assert meta["sources"] == ["stacked_hourglass"]
    assert meta["producer"]["name"] == "import_keypoints"
    assert len(meta["producer"]["code_sha256"]) == 64

    # 4 frames in both; 16 joints each (no Neck), minus the LWrist missing in the GT.
    error = compare_sources(gt, det)
    assert error == {"rows": 4, "joints": 4 * 16 - 1, "mean_px": 5.0, "median_px": 5.0}


def test_gt_needs_an_extract_table_and_rows(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run `extract` first"):
        import_gt(tmp_path, tmp_path / "gt.parquet")
    write_frames(
        frames_table(dataset="challenge", split="Val", subject="", action="", camera="", frame=[0]),
        tmp_path / "challenge.parquet",
        source={},
        producer={},
    )
    with pytest.raises(ValueError, match="gt: no keypoints found"):
        import_gt(tmp_path, tmp_path / "gt.parquet")
    assert not (tmp_path / "gt.parquet").exists()


def test_gt_takes_an_empty_table_beside_a_full_one(tmp_path: Path) -> None:
    kp = _tiny_extract(tmp_path)
    write_frames(empty_frames(), tmp_path / "challenge.parquet", source={}, producer={})
    summary = import_gt(tmp_path, tmp_path / "gt.parquet")  # a reader that was off: no rows
    assert summary.rows == 4 and summary.skipped_rows == 1  # frame 2 has no 2D
    assert len(kp) == 5


def test_stacked_hourglass_subject_filter_and_empty_root(tmp_path: Path) -> None:
    _tiny_sh_root(tmp_path)
    with pytest.raises(ValueError, match="stacked_hourglass: no keypoints found"):
        import_stacked_hourglass(tmp_path, tmp_path / "sh.parquet", subjects=("S9",))


def test_npz_import_with_stride_and_subjects(tmp_path: Path) -> None:
    kp = np.arange(6 * 17 * 2, dtype=np.float32).reshape(6, 17, 2)
    kp[4, 0] = np.nan
    with_scores = np.concatenate([kp, np.full((6, 17, 1), 0.9, np.float32)], axis=-1)
    positions = {"S1": {"Walking": [kp, kp + 1]}, "S9": {"TakingPhoto 1": [with_scores]}}
    path = tmp_path / "data_2d.npz"
    npz2d.write_positions_2d(path, positions, {"layout_name": "h36m", "num_joints": 17})

    summary = import_npz(path, tmp_path / "npz.parquet", frame_stride=2)
    assert (summary.rows, summary.sequences, summary.skipped_rows) == (9, 3, 9)
    table = kps.read_keypoints(tmp_path / "npz.parquet")
    arrays = kps.keypoints_to_arrays(table)
    np.testing.assert_array_equal(arrays.frame[:3], [0, 1, 2])  # rows 0, 2, 4
    np.testing.assert_array_equal(arrays.kp2d_px[:3], kp[[0, 2, 4]])
    assert table.column("camera").to_pylist()[:4] == ["54138969"] * 3 + ["55011271"]
    assert table.column("action").to_pylist()[6] == "Photo 1"  # the extract stage's spelling
    s9 = arrays.scores[6:]
    assert s9[2, 0] == 0.0 and s9[0, 0] == pytest.approx(0.9)  # NaN joint: score forced to 0
    np.testing.assert_array_equal(arrays.image_wh[0], [1000, 1002])
    meta = read_parquet_metadata(tmp_path / "npz.parquet")
    assert meta["producer"]["params"]["npz_metadata"] == {"layout_name": "h36m", "num_joints": 17}

    only_s9 = import_npz(path, tmp_path / "s9.parquet", subjects=("S9",))
    assert (only_s9.rows, only_s9.sequences) == (6, 1)


def test_params_reject_bad_sources_when_they_load(repo_root: Path) -> None:
    params_path = repo_root / "params.yaml"
    load_params(params_path, ["import_keypoints.sources=[gt, stacked_hourglass]"])
    with pytest.raises(ConfigError, match=r"unknown \['openpose'\]"):
        load_params(params_path, ["import_keypoints.sources=[openpose]"])
    with pytest.raises(ConfigError, match="npz_path: empty"):
        load_params(params_path, ["import_keypoints.sources=[npz]"])


def test_real_stacked_hourglass_against_ground_truth(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "h36m"
    cameras = read_cameras(root / "cameras.h5")
    extract = tmp_path / "extract"
    tables = []
    for cam in ("54138969", "55011271", "58860488", "60457274"):
        world = mocap32_to_h36m17(read_positions(poses_path(root, "S1", "Directions 1")))
        kp = project_world(world, cameras[("S1", cam)])
        tables.append((cam, kp))
    frames = [
        frames_table(
            dataset="h36m",
            split="",
            subject="S1",
            action="Directions 1",
            camera=cam,
            frame=np.arange(len(kp)),
            kp2d_px=kp,
        )
        for cam, kp in tables
    ]
    write_frames(pa.concat_tables(frames), extract / "h36m.parquet", source={}, producer={})
    import_gt(extract, tmp_path / "gt.parquet")
    summary = import_stacked_hourglass(root, tmp_path / "sh.parquet", subjects=("S1",))
    assert summary.sequences == 120  # 30 actions x 4 cameras
    assert summary.missing_joints == summary.rows  # the Neck of every row
    error = compare_sources(
        kps.read_keypoints(tmp_path / "gt.parquet"), kps.read_keypoints(tmp_path / "sh.parquet")
    )
    assert error["rows"] == 4 * 277
    assert 5.0 < float(error["mean_px"] or 0) < 25.0  # README: about 12-15 px
