"""pose3d.camera: round trips, look_at, projection properties and the real Human3.6M frame."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d.camera import Camera, camera_to_world, look_at, project, project_world, world_to_camera


def _camera(k=(0.0, 0.0, 0.0), p=(0.0, 0.0)) -> Camera:
    R = look_at(np.array([3000.0, -4000.0, 1500.0]), np.array([0.0, 0.0, 900.0]))
    return Camera(
        name="test",
        R=R,
        T=np.array([3000.0, -4000.0, 1500.0]),
        f=np.array([1150.0, 1148.0]),
        c=np.array([512.0, 515.0]),
        k=np.array(k),
        p=np.array(p),
        width=1000,
        height=1002,
    )


def test_world_camera_round_trip() -> None:
    cam = _camera()
    pts = np.random.default_rng(0).normal(0.0, 800.0, size=(5, 17, 3))
    back = camera_to_world(world_to_camera(pts, cam), cam)
    np.testing.assert_allclose(back, pts, atol=1e-9)
    # the camera centre maps to the camera-frame origin
    np.testing.assert_allclose(world_to_camera(cam.T, cam), np.zeros(3), atol=1e-9)


def test_look_at_is_a_rotation_facing_the_target() -> None:
    eye, target = np.array([3000.0, -4000.0, 1500.0]), np.array([0.0, 0.0, 900.0])
    R = look_at(eye, target)
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    forward = (target - eye) / np.linalg.norm(target - eye)
    np.testing.assert_allclose(R[:, 2], forward, atol=1e-12)
    # image y (down) points against world up
    assert R[:, 1] @ np.array([0.0, 0.0, 1.0]) < 0


def test_look_at_rejects_a_view_along_up() -> None:
    with pytest.raises(ValueError, match="parallel"):
        look_at(np.zeros(3), np.array([0.0, 0.0, 5.0]))


def test_point_on_the_optical_axis_hits_the_principal_point() -> None:
    cam = _camera(k=(-0.2, 0.24, -0.003), p=(-0.0014, -0.001))
    uv = project(np.array([[0.0, 0.0, 4321.0]]), cam)
    np.testing.assert_allclose(uv, cam.c[None], atol=1e-9)
    target_uv = project_world(np.array([0.0, 0.0, 900.0]), _camera())
    np.testing.assert_allclose(target_uv, _camera().c, atol=1e-9)


def test_zero_distortion_is_the_pinhole() -> None:
    cam = _camera()
    pts = np.array([[100.0, -250.0, 4000.0], [-700.0, 300.0, 5500.0]])
    expected = pts[:, :2] / pts[:, 2:] * cam.f + cam.c
    np.testing.assert_allclose(project(pts, cam), expected, atol=1e-9)


def test_distortion_by_hand() -> None:
    # x = 0.1, y = -0.05: r2 = 0.0125; radial = 1 + 0.1 * 0.0125 = 1.00125
    # tan = p1 y + p2 x = 0.01 * -0.05 + 0.02 * 0.1 = 0.0015
    # x' = 0.1 * (1.00125 + 0.0015) + 0.02 * 0.0125 = 0.10052500
    # y' = -0.05 * (1.00125 + 0.0015) + 0.01 * 0.0125 = -0.05001250
    cam = Camera(
        "t", np.eye(3), np.zeros(3), [1000, 1000], [500, 400], [0.1, 0, 0], [0.01, 0.02], 1, 1
    )
    uv = project(np.array([0.1, -0.05, 1.0]) * 2000.0, cam)
    np.testing.assert_allclose(uv, [500 + 100.525, 400 - 50.0125], atol=1e-9)


def test_real_frame_projection(shared_data) -> None:
    """S1 'Directions 1' frame 0, camera 54138969, against the official 2D and 3D."""
    from pose3d.formats.h36m import poses_path, read_cameras, read_positions
    from pose3d.skeleton import mocap32_to_h36m17

    root = shared_data / "h36m"
    cam = read_cameras(root / "cameras.h5")[("S1", "54138969")]
    pose17 = mocap32_to_h36m17(read_positions(poses_path(root, "S1", "Directions 1"))[0])
    ref = np.load(shared_data / "h36m_frames" / "test_h36m_body3d.npz")
    pts_cam = world_to_camera(pose17, cam)
    np.testing.assert_allclose(pts_cam, ref["S"][0, :, :3] * 1000.0, atol=0.01)
    np.testing.assert_allclose(project(pts_cam, cam), ref["part"][0, :, :2], atol=0.01)
