"""pose3d.formats.h36m: cameras and positions on disk, action spellings, camera views."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from pose3d.camera import Camera, look_at, project, world_to_camera
from pose3d.formats.h36m import (
    action_spellings,
    camera_view,
    canonical_action,
    poses_path,
    read_cameras,
    read_positions,
    write_cameras,
    write_positions,
)


def _cam(name: str = "10000001") -> Camera:
    eye = np.array([4000.0, 1000.0, 1600.0])
    return Camera(name, look_at(eye, np.array([0.0, 0.0, 1000.0])), eye, [370.0, 371.0],
                  [160.0, 158.0], [-0.2, 0.24, -0.003], [-0.0014, -0.001], 320, 320)  # fmt: skip


def test_cameras_and_positions_round_trip(tmp_path) -> None:
    write_cameras(tmp_path / "cameras.h5", {("S1", "10000001"): _cam()})
    cam = read_cameras(tmp_path / "cameras.h5")[("S1", "10000001")]
    np.testing.assert_allclose(cam.R, _cam().R)
    assert (cam.width, cam.height) == (320, 320)
    poses = np.random.default_rng(0).normal(0, 400, size=(3, 32, 3))
    write_positions(poses_path(tmp_path, "S1", "Walking 1"), poses)
    np.testing.assert_array_equal(read_positions(poses_path(tmp_path, "S1", "Walking 1")), poses)


def test_truncated_and_wrong_h5(tmp_path) -> None:
    good = tmp_path / "good.h5"
    write_positions(good, np.zeros((100, 32, 3)))
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.h5: not a readable HDF5"):
        read_positions(truncated)
    with h5py.File(tmp_path / "wrong.h5", "w") as f:
        f["3D_positions"] = np.zeros((90, 4))
    with pytest.raises(ValueError, match=r"wrong.h5: 3D_positions has shape \(90, 4\)"):
        read_positions(tmp_path / "wrong.h5")


def test_action_spellings() -> None:
    assert canonical_action("TakingPhoto 1") == "Photo 1"
    assert canonical_action("WalkingDog") == "WalkDog"
    assert canonical_action("Walking 1") == "Walking 1"
    assert action_spellings("Photo 1") == ["Photo 1", "TakingPhoto 1"]
    assert action_spellings("WalkingDog 1") == ["WalkDog 1", "WalkingDog 1"]
    assert action_spellings("Eating 2") == ["Eating 2"]


def test_camera_view() -> None:
    cam = _cam()
    pose = np.random.default_rng(1).normal([0, 0, 1000], 300, size=(4, 17, 3))
    rel, root, kp2d = camera_view(pose, cam)
    full = world_to_camera(pose, cam)
    np.testing.assert_allclose(rel[:, 0], 0.0, atol=1e-9)
    np.testing.assert_allclose(rel + root[:, None], full, atol=1e-9)
    np.testing.assert_allclose(kp2d, project(full, cam), atol=1e-9)
    assert rel.shape == (4, 17, 3) and root.shape == (4, 3) and kp2d.shape == (4, 17, 2)


def test_real_tree(shared_data) -> None:
    root = shared_data / "h36m"
    cams = read_cameras(root / "cameras.h5")
    assert len(cams) == 28 and ("S11", "60457274") in cams
    poses = read_positions(poses_path(root, "S1", "Directions 1"))
    assert poses.shape[1:] == (32, 3) and np.isfinite(poses).all()
