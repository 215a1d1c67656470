from __future__ import annotations

import lifting_rows
import numpy as np
import pytest

from pose3d.camera import Camera, camera_to_world, look_at, project, world_to_camera
from pose3d.lifting import dataset, mirror
from pose3d.lifting.augment import augment_rows, bone_factors, resample_errors, scale_bones
from pose3d.skeleton import H36M17_LR_PAIRS, H36M17_PARENTS


def _camera() -> Camera:
    eye = np.array([3000.0, -3500.0, 1700.0])  # looking slightly down, as in Human3.6M
    return Camera("c", look_at(eye, np.array([0.0, 0.0, 900.0])), eye, [1145.0, 1144.0],
                  [512.0, 515.0], [-0.2, 0.24, -0.002], [-0.0009, -0.0029], 1000, 1002)  # fmt: skip


def _rows(n: int = 6, seed: int = 0) -> dataset.LiftingDataset:
    rng = np.random.default_rng(seed)
    pose32 = rng.normal(0.0, 250.0, size=(n, 32, 3)) + np.array([200.0, -100.0, 900.0])
    return lifting_rows.sequence_rows(pose32, _camera(), None, ("S1", "Walking"))


def _bone_lengths(pose: np.ndarray) -> np.ndarray:
    parents = np.array(H36M17_PARENTS[1:])
    return np.linalg.norm(pose[:, 1:] - pose[:, parents], axis=-1)


def test_no_change_reproduces_the_rows() -> None:
    data = _rows()
    assert data.geometry is not None
    kp, pose, ok = augment_rows(data.kp2d_px, data.pose3d_cam_mm, data.geometry,
                                np.random.default_rng(0), 0.0, 0.0)  # fmt: skip
    assert ok.all()
    np.testing.assert_allclose(kp, data.kp2d_px, atol=1e-3)
    np.testing.assert_allclose(pose, data.pose3d_cam_mm, atol=1e-3)


def test_yaw_is_a_turn_about_the_world_vertical_seen_by_the_same_camera() -> None:
    data, cam = _rows(), _camera()
    assert data.geometry is not None
    kp, pose, ok = augment_rows(data.kp2d_px, data.pose3d_cam_mm, data.geometry,
                                np.random.default_rng(3), 180.0, 0.0)  # fmt: skip
    assert ok.all()
    root_world = camera_to_world(data.geometry[:, :3], cam)[:, None, :]
    old_world = camera_to_world(data.pose3d_cam_mm + data.geometry[:, None, :3], cam)
    new_world = camera_to_world(pose + data.geometry[:, None, :3], cam)
    # heights above the floor unchanged, horizontal distances to the root unchanged
    np.testing.assert_allclose(new_world[..., 2], old_world[..., 2], atol=1e-2)
    horizontal = lambda p: np.linalg.norm((p - root_world)[..., :2], axis=-1)  # noqa: E731
    np.testing.assert_allclose(horizontal(new_world), horizontal(old_world), atol=1e-2)
    assert np.abs(new_world - old_world).max() > 50.0  # it did turn
    # the 2D is the camera's projection of the new 3D, distortion included
    np.testing.assert_allclose(kp, project(world_to_camera(new_world, cam), cam), atol=1e-2)


def test_bone_scaling_keeps_directions_and_left_right_symmetry() -> None:
    data = _rows(200)
    factors = bone_factors(200, 0.1, np.random.default_rng(0))
    for left, right in H36M17_LR_PAIRS:
        np.testing.assert_array_equal(factors[:, left], factors[:, right])
    assert 0.08 < np.log(factors[:, 1:]).std() < 0.12
    scaled = scale_bones(data.pose3d_cam_mm.astype(np.float64), factors)
    np.testing.assert_allclose(
        _bone_lengths(scaled), _bone_lengths(data.pose3d_cam_mm) * factors[:, 1:], rtol=1e-4
    )


def test_detection_error_is_carried_over_and_missing_joints_stay_missing() -> None:
    data = _rows()
    assert data.geometry is not None
    error = np.random.default_rng(1).normal(0.0, 5.0, data.kp2d_px.shape)
    detections = (data.kp2d_px + error).astype(np.float32)
    detections[:, 9] = np.nan  # e.g. the Stacked Hourglass has no Neck
    kp, pose, _ = augment_rows(detections, data.pose3d_cam_mm, data.geometry,
                               np.random.default_rng(2), 0.0, 0.05)  # fmt: skip
    clean, _, _ = augment_rows(data.kp2d_px, data.pose3d_cam_mm, data.geometry,
                               np.random.default_rng(2), 0.0, 0.05)  # fmt: skip
    assert np.isnan(kp[:, 9]).all()
    keep = [j for j in range(17) if j != 9]
    np.testing.assert_allclose(kp[:, keep] - clean[:, keep], error[:, keep], atol=1e-2)


def test_flipped_rows_augment_consistently() -> None:
    flipped = mirror.flip_lr_dataset(_rows())
    assert flipped.geometry is not None
    kp, _, ok = augment_rows(flipped.kp2d_px, flipped.pose3d_cam_mm, flipped.geometry,
                             np.random.default_rng(0), 0.0, 0.0)  # fmt: skip
    assert ok.all()
    np.testing.assert_allclose(kp, flipped.kp2d_px, atol=1e-3)


def test_rows_without_geometry_or_behind_the_camera_are_left_alone() -> None:
    data = _rows(4)
    assert data.geometry is not None
    geometry = data.geometry.copy()
    geometry[0] = np.nan
    geometry[1, 2] = 150.0  # root 15 cm in front of the camera: a turn puts joints behind it
    kp, pose, ok = augment_rows(data.kp2d_px, data.pose3d_cam_mm, geometry,
                                np.random.default_rng(0), 180.0, 0.2)  # fmt: skip
    assert not ok[0] and not ok[1] and ok[2:].all()
    np.testing.assert_allclose(kp[:2], data.kp2d_px[:2], rtol=1e-6)  # float32 copies
    np.testing.assert_allclose(pose[:2], data.pose3d_cam_mm[:2], rtol=1e-6, atol=1e-4)


def test_body_size_scales_every_bone_alike_and_keeps_the_feet_on_the_floor() -> None:
    data, cam = _rows(50), _camera()
    assert data.geometry is not None
    kp, pose, ok = augment_rows(data.kp2d_px, data.pose3d_cam_mm, data.geometry,
                                np.random.default_rng(5), 0.0, 0.0, body_scale=0.1)  # fmt: skip
    assert ok.all()
    ratio = _bone_lengths(pose) / _bone_lengths(data.pose3d_cam_mm)
    np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones_like(ratio), rtol=1e-4)
    assert 0.05 < np.log(ratio[:, 0]).std() < 0.15
    # the 2D is the projection of the new pose placed so that its lowest joint keeps its height
    # above the floor (the root moves up or down with the size), at the old root's floor position
    old_world = camera_to_world(data.pose3d_cam_mm + data.geometry[:, None, :3], cam)
    lowest = old_world[..., 2].min(axis=1)
    shift = lowest - (pose @ cam.R.T)[..., 2].min(axis=1)  # new root height that keeps it
    new_world = camera_to_world(pose, cam) - cam.T + old_world[:, :1] * [1, 1, 0]
    new_world[..., 2] += shift[:, None]
    np.testing.assert_allclose(kp, project(world_to_camera(new_world, cam), cam), atol=1e-2)


def test_resampled_errors_come_from_other_rows_rescaled_to_this_rows_size() -> None:
    rng = np.random.default_rng(0)
    error = rng.normal(0.0, 5.0, size=(50, 17, 2))
    error[:, 9] = np.nan  # a joint the detector never gives (the Stacked Hourglass's Neck)
    scale = np.full(50, 0.2)
    scale[1::2] = 0.4  # every other person twice as large in the image
    out = resample_errors(error, scale, np.random.default_rng(1), 1.0, 0.0)
    assert out.shape == error.shape and np.isnan(out[:, 9]).all()
    moved = 0
    for i in range(50):
        matches = [
            k for k in range(50)
            if np.allclose(out[i], error[k] * scale[i] / scale[k], equal_nan=True)
        ]  # fmt: skip
        assert matches, f"row {i}: not another row's error at this row's scale"
        moved += i not in matches
    assert moved > 40  # nearly every row took another's error
    np.testing.assert_array_equal(resample_errors(error, scale, rng, 0.0, 0.0), error)


def test_clean_rows_have_no_error_and_missing_joints_stay_missing() -> None:
    error = np.random.default_rng(0).normal(0.0, 5.0, size=(400, 17, 2))
    error[:, 3] = np.nan
    out = resample_errors(error, np.ones(400), np.random.default_rng(2), 0.0, 0.3)
    clean = np.all(np.nan_to_num(out) == 0.0, axis=(1, 2))
    assert 0.22 < clean.mean() < 0.38  # about the share asked for
    np.testing.assert_array_equal(out[~clean], error[~clean])  # the rest keep their own
    assert np.isnan(out[:, 3]).all()
    with pytest.raises(ValueError, match="> 1"):
        resample_errors(error, np.ones(400), np.random.default_rng(2), 0.8, 0.3)


def test_augmented_rows_with_clean_errors_are_the_cameras_projection() -> None:
    data = _rows(40)
    assert data.geometry is not None
    noisy = data.kp2d_px + np.random.default_rng(5).normal(0.0, 8.0, data.kp2d_px.shape)
    kp, pose, ok = augment_rows(noisy.astype(np.float32), data.pose3d_cam_mm, data.geometry,
                                np.random.default_rng(3), 0.0, 0.1, 0.0, 0.0, 1.0)  # fmt: skip
    exact, same_pose, _ = augment_rows(data.kp2d_px, data.pose3d_cam_mm, data.geometry,
                                       np.random.default_rng(3), 0.0, 0.1)  # fmt: skip
    assert ok.all()
    np.testing.assert_allclose(pose, same_pose)  # the same new bodies
    np.testing.assert_allclose(kp, exact, atol=1e-2)  # seen without the 8 px of noise
