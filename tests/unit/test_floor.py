from __future__ import annotations

import lifting_rows
import numpy as np
import pytest

from pose3d.camera import Camera, look_at, project, world_to_camera
from pose3d.formats.h36m import poses_path, read_cameras, read_positions
from pose3d.lifting import geometry as geo
from pose3d.lifting import mirror
from pose3d.lifting import normalization as nz
from pose3d.lifting.floor import ANKLE_HEIGHT_MM, FLOOR_JOINTS, floor_inverse_depth, undistort

EYE = np.array([300.0, -4500.0, 1600.0])


def _camera(
    target_z: float = 900.0, k1: float = -0.2, p: tuple[float, float] = (0.0, 0.0)
) -> Camera:
    r = look_at(EYE, np.array([0.0, 0.0, target_z]))
    return Camera("c1", r, EYE, [1100.0, 1090.0], [505.0, 495.0], [k1, 0.24, -0.003], list(p), 1000, 1000)  # fmt: skip


def _ankles_on_floor(n: int, seed: int = 0) -> np.ndarray:
    """World points of 17 joints, the two ankles at ANKLE_HEIGHT_MM. Shapes: -> (n, 17, 3)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform([-1500.0, -1500.0, 200.0], [1500.0, 1500.0, 1700.0], size=(n, 17, 3))
    pts[:, list(FLOOR_JOINTS), 2] = ANKLE_HEIGHT_MM
    return pts


def test_geometry_has_the_camera_height_above_the_floor() -> None:
    cam = _camera()
    geometry = geo.view_geometry(np.zeros((2, 3)), cam)
    assert geometry.shape == (2, len(geo.GEOMETRY_COLUMNS))
    assert geometry[0, geo.GEOMETRY_COLUMNS.index("cam_height_mm")] == EYE[2]


def test_undistort_inverts_the_projection() -> None:
    cam = _camera(p=(-0.0027, 0.0016))
    pts_cam = world_to_camera(_ankles_on_floor(20), cam)
    geometry = geo.view_geometry(pts_cam[:, 0], cam)
    xy = undistort(project(pts_cam, cam), geo.Geometry.from_array(geometry))
    np.testing.assert_allclose(xy, pts_cam[..., :2] / pts_cam[..., 2:], atol=1e-7)


@pytest.mark.parametrize("target_z", [900.0, 1600.0])  # tilted down; level (up = -y exactly)
def test_ankles_on_the_floor_give_their_exact_inverse_depth(target_z: float) -> None:
    cam = _camera(target_z)
    pts_cam = world_to_camera(_ankles_on_floor(30), cam)
    geometry = geo.view_geometry(pts_cam[:, 0], cam)
    inv = floor_inverse_depth(project(pts_cam, cam), geometry)
    assert inv.shape == (30, 2)
    np.testing.assert_allclose(inv, 1000.0 / pts_cam[:, list(FLOOR_JOINTS), 2], rtol=1e-6)


def test_a_raised_foot_reads_farther_and_missing_inputs_are_nan() -> None:
    cam = _camera()
    world = _ankles_on_floor(4)
    raised = world.copy()
    raised[:, FLOOR_JOINTS[0], 2] += 300.0  # the right foot lifted 30 cm
    pts, pts_raised = world_to_camera(world, cam), world_to_camera(raised, cam)
    geometry = geo.view_geometry(pts[:, 0], cam)
    inv = floor_inverse_depth(project(pts, cam), geometry)
    inv_raised = floor_inverse_depth(project(pts_raised, cam), geometry)
    assert (inv_raised[:, 0] < inv[:, 0]).all()  # nearer the horizon: smaller 1/Z, farther
    np.testing.assert_allclose(inv_raised[:, 1], inv[:, 1])
    kp = project(pts, cam)
    kp[0, FLOOR_JOINTS[1]] = np.nan
    geometry[1] = np.nan
    out = floor_inverse_depth(kp, geometry)
    assert np.isnan(out[0, 1]) and np.isfinite(out[0, 0]) and np.isnan(out[1]).all()
    with pytest.raises(ValueError, match="geometry"):
        floor_inverse_depth(kp, geometry[:, :15])


def test_the_mirrored_view_swaps_the_ankles() -> None:
    cam = _camera(p=(-0.0027, 0.0016))
    pts_cam = world_to_camera(_ankles_on_floor(10), cam)
    geometry = geo.view_geometry(pts_cam[:, 0], cam)
    kp = project(pts_cam, cam)
    mirrored = floor_inverse_depth(
        mirror.mirror_kp2d(kp, np.tile(cam.c, (10, 1))), geo.mirror_geometry(geometry)
    )
    np.testing.assert_allclose(mirrored, floor_inverse_depth(kp, geometry)[:, ::-1], rtol=1e-6)


def test_floor_input_statistics_and_standardisation() -> None:
    cam = _camera()
    pts_cam = world_to_camera(_ankles_on_floor(40), cam)
    kp = project(pts_cam, cam)
    pose = pts_cam - pts_cam[:, :1]
    geometry = geo.view_geometry(pts_cam[:, 0], cam)
    wh = np.tile([1000.0, 1000.0], (40, 1))
    stats = nz.compute_stats(kp, wh, pose, "zscore", (), geometry)
    assert stats.floor_input and stats.mean_2d.shape == (34 + len(FLOOR_JOINTS),)
    inv = 1000.0 / pts_cam[:, list(FLOOR_JOINTS), 2]
    np.testing.assert_allclose(stats.mean_2d[34:], inv.mean(axis=0), rtol=1e-6)
    x = nz.normalize_2d(kp, wh, stats, geometry)
    np.testing.assert_allclose(x[:, 34:], (inv - inv.mean(0)) / inv.std(0), atol=1e-4)
    unknown = geometry.copy()
    unknown[:5] = np.nan  # a row without cameras: the training mean, like a missing joint
    assert (nz.normalize_2d(kp, wh, stats, unknown)[:5, 34:] == 0).all()
    with pytest.raises(ValueError, match="floor input"):
        nz.normalize_2d(kp, wh, stats)
    assert nz.NormStats.from_dict(stats.to_dict()).floor_input
    without = nz.compute_stats(kp, wh, pose)
    assert not without.floor_input and nz.normalize_2d(kp, wh, without, geometry).shape == (40, 34)


def test_on_real_human36m_the_floor_gives_the_ankles_depth(shared_data) -> None:
    """Real mocap and calibration (S8, Walking 1, all 4 cameras): where the ankles' rays meet the
    floor is within a few percent of their true depth, far better than the mean depth."""
    root = shared_data / "h36m"
    world = read_positions(poses_path(root, "S8", "Walking 1"))
    errors, spread = [], []
    for key, cam in read_cameras(root / "cameras.h5").items():
        if key[0] != "S8":
            continue
        rows = lifting_rows.sequence_rows(world, cam, None, ("S8", "Walking 1"))
        assert rows.geometry is not None
        depth = rows.pose3d_cam_mm[:, list(FLOOR_JOINTS), 2] + rows.geometry[:, 2:3]
        lower = np.argmax(rows.kp2d_px[:, list(FLOOR_JOINTS), 1], axis=1)  # lower in the image
        inv = floor_inverse_depth(rows.kp2d_px, rows.geometry)
        pick = np.arange(len(rows))
        errors.append(inv[pick, lower] * depth[pick, lower] / 1000.0 - 1.0)
        spread.append(depth[pick, lower] / depth[pick, lower].mean() - 1.0)
    assert len(errors) == 4
    err, var = np.abs(np.concatenate(errors)), np.abs(np.concatenate(spread))
    assert np.median(err) < 0.04 and np.percentile(err, 90) < 0.10
    assert np.median(err) < 0.25 * np.median(var)
