from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from pose3d import lifting
from pose3d.camera import Camera, look_at, project
from pose3d.formats.h36m import poses_path, write_cameras, write_positions
from pose3d.skeleton import H36M17_JOINTS


def _camera(name: str = "10000001", k: float = 0.0) -> Camera:
    eye = np.array([0.0, -4000.0, 1500.0])
    return Camera(name, look_at(eye, np.array([0.0, 0.0, 1000.0])), eye, [1000.0, 1000.0],
                  [510.0, 490.0], [k, 0.0, 0.0], [0.0, 0.0], 1000, 1000)  # fmt: skip


def _poses32(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 300.0, size=(n, 32, 3)) + np.array([0.0, 0.0, 1000.0])


def _rows(n: int = 5) -> lifting.LiftingDataset:
    return lifting.sequence_rows(_poses32(n), _camera(), None, ("S1", "Walking 1"))


def test_sequence_rows_are_root_relative_and_project_the_3d() -> None:
    cam = _camera()
    data = _rows()
    assert len(data) == 5 and data.num_joints == 17
    np.testing.assert_array_equal(data.pose3d_cam_mm[:, 0], 0.0)
    assert data.subject[0] == "S1" and data.action[0] == "Walking 1" and data.camera[0] == cam.name
    np.testing.assert_array_equal(data.principal_px, np.tile(cam.c, (5, 1)))
    np.testing.assert_array_equal(data.image_wh_px, np.tile([1000.0, 1000.0], (5, 1)))


def test_sequence_rows_truncate_to_the_shorter_source() -> None:
    kp = np.zeros((4, 17, 2))
    data = lifting.sequence_rows(_poses32(6), _camera(), kp, ("S1", "Walking"))
    assert len(data) == 4


def test_flip_is_camera_aware_and_an_involution() -> None:
    data = _rows()
    flipped = lifting.flip_lr_dataset(data)
    twice = lifting.flip_lr_dataset(flipped)
    np.testing.assert_allclose(twice.kp2d_px, data.kp2d_px)
    np.testing.assert_allclose(twice.pose3d_cam_mm, data.pose3d_cam_mm)
    # Mirroring about the principal point is the projection of the mirrored 3D (no distortion):
    # the root's absolute position matters, so rebuild it from the un-flipped root.
    cam = _camera()
    root = (_poses32(5)[:, :1] - cam.T) @ cam.R
    mirrored_abs = flipped.pose3d_cam_mm + root * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(project(mirrored_abs, cam), flipped.kp2d_px, atol=1e-6)
    left, right = H36M17_JOINTS.index("LWrist"), H36M17_JOINTS.index("RWrist")
    np.testing.assert_allclose(flipped.pose3d_cam_mm[:, left, 0], -data.pose3d_cam_mm[:, right, 0])


def test_dataset_validates_shapes() -> None:
    data = _rows()
    with pytest.raises(ValueError, match="pose3d_cam_mm"):
        lifting.LiftingDataset(data.kp2d_px, data.pose3d_cam_mm[:, :16], data.subject,
                               data.action, data.camera, data.image_wh_px, data.principal_px)  # fmt: skip
    with pytest.raises(ValueError, match="different joint counts"):
        lifting.concat([data, _sixteen(data)])


def _sixteen(data: lifting.LiftingDataset) -> lifting.LiftingDataset:
    return lifting.LiftingDataset(data.kp2d_px[:, :16], data.pose3d_cam_mm[:, :16], data.subject,
                                  data.action, data.camera, data.image_wh_px, data.principal_px)  # fmt: skip


def test_select_subjects_and_action_names() -> None:
    data = lifting.concat(
        [_rows(), lifting.sequence_rows(_poses32(3), _camera(), None, ("S5", "Eating"))]
    )
    assert len(lifting.select_subjects(data, ["S5"])) == 3
    with pytest.raises(ValueError, match="S9"):
        lifting.select_subjects(data, ["S9"])
    assert lifting.action_base("Directions 1") == "Directions"
    assert lifting.action_base("Photo_2") == "Photo"
    assert lifting.action_base("WalkDog") == "WalkDog"


def _write_tree(root: Path) -> None:
    cams = {("S1", "10000001"): _camera("10000001", -0.1), ("S1", "10000002"): _camera("10000002")}
    write_cameras(root / "cameras.h5", cams)
    write_positions(poses_path(root, "S1", "Walking 1"), _poses32(6))
    for name in ("10000001", "10000002"):
        path = lifting.stacked_hourglass_path(root, "S1", "Walking 1", name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            f["poses"] = np.full((5, 16, 2), 400.0)  # one frame fewer than the mocap


def test_load_tree_gt_and_stacked_hourglass(tmp_path: Path) -> None:
    _write_tree(tmp_path)
    gt = lifting.load_h36m_lifting(tmp_path, ["S1"], "gt")
    assert len(gt) == 12 and gt.kp2d_px.dtype == np.float32
    assert sorted(set(gt.camera.tolist())) == ["10000001", "10000002"]
    assert lifting.stacked_hourglass_path(tmp_path, "S1", "Walking 1", "1").name == "Walking_1.1.h5"
    sh = lifting.load_h36m_lifting(tmp_path, ["S1"], "stacked_hourglass")
    assert len(sh) == 10
    assert np.isnan(sh.kp2d_px[:, 9]).all()  # no Neck in MPII order
    assert not np.isnan(np.delete(sh.kp2d_px, 9, axis=1)).any()
    with pytest.raises(FileNotFoundError, match="S7"):
        lifting.load_h36m_lifting(tmp_path, ["S7"], "gt")
    with pytest.raises(ValueError, match="keypoint source"):
        lifting.load_h36m_lifting(tmp_path, ["S1"], "openpose")


def test_real_stacked_hourglass_is_near_the_ground_truth_projection(shared_data: Path) -> None:
    root = shared_data / "h36m"
    gt = lifting.load_h36m_lifting(root, ["S1"], "gt")
    sh = lifting.load_h36m_lifting(root, ["S1"], "stacked_hourglass")
    assert len(gt) == len(sh) > 40_000
    np.testing.assert_array_equal(gt.pose3d_cam_mm, sh.pose3d_cam_mm)
    err = np.linalg.norm(gt.kp2d_px - sh.kp2d_px, axis=-1)
    hips_knees = [0, 1, 2, 4, 5]  # detections of these are close to the projection
    assert 5.0 < float(np.nanmean(err[:, hips_knees])) < 20.0
    assert 5.0 < float(np.nanmean(gt.pose3d_cam_mm[:, :, 2].std(axis=0))) < 500
