from __future__ import annotations

import dataclasses

import lifting_rows
import numpy as np
import pytest

from pose3d.camera import Camera, look_at, project
from pose3d.lifting import dataset, mirror
from pose3d.skeleton import H36M17_JOINTS


def _camera(name: str = "10000001", k: float = 0.0) -> Camera:
    eye = np.array([0.0, -4000.0, 1500.0])
    return Camera(name, look_at(eye, np.array([0.0, 0.0, 1000.0])), eye, [1000.0, 1000.0],
                  [510.0, 490.0], [k, 0.0, 0.0], [0.0, 0.0], 1000, 1000)  # fmt: skip


def _poses32(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 300.0, size=(n, 32, 3)) + np.array([0.0, 0.0, 1000.0])


def _rows(n: int = 5) -> dataset.LiftingDataset:
    return lifting_rows.sequence_rows(_poses32(n), _camera(), None, ("S1", "Walking 1"))


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
    data = lifting_rows.sequence_rows(_poses32(6), _camera(), kp, ("S1", "Walking"))
    assert len(data) == 4


def test_flip_is_camera_aware_and_an_involution() -> None:
    data = _rows()
    flipped = mirror.flip_lr_dataset(data)
    twice = mirror.flip_lr_dataset(flipped)
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
        dataset.LiftingDataset(data.kp2d_px, data.pose3d_cam_mm[:, :16], data.subject,
                               data.action, data.camera, data.image_wh_px, data.principal_px)  # fmt: skip
    with pytest.raises(ValueError, match="different joint counts"):
        dataset.concat([data, _sixteen(data)])
    with pytest.raises(ValueError, match="scores"):  # one score per joint
        dataclasses.replace(data, scores=np.ones((len(data), 16)))
    scored = dataclasses.replace(data, scores=np.ones((len(data), 17)))
    assert dataset.concat([scored, scored]).scores is not None
    assert dataset.concat([scored, data]).scores is None  # unknown in part: unknown


def _sixteen(data: dataset.LiftingDataset) -> dataset.LiftingDataset:
    return dataset.LiftingDataset(data.kp2d_px[:, :16], data.pose3d_cam_mm[:, :16], data.subject,
                                  data.action, data.camera, data.image_wh_px, data.principal_px)  # fmt: skip


def test_select_subjects_and_action_names() -> None:
    data = dataset.concat(
        [_rows(), lifting_rows.sequence_rows(_poses32(3), _camera(), None, ("S5", "Eating"))]
    )
    assert len(dataset.select_subjects(data, ["S5"])) == 3
    with pytest.raises(ValueError, match="S9"):
        dataset.select_subjects(data, ["S9"])
    assert dataset.action_base("Directions 1") == "Directions"
    assert dataset.action_base("Photo_2") == "Photo"
    assert dataset.action_base("WalkDog") == "WalkDog"
