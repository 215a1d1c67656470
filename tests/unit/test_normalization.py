from __future__ import annotations

import numpy as np
import pytest

from pose3d.lifting import normalization as nz


def _data(n: int = 50, j: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    kp = rng.normal(500, 80, size=(n, j, 2))
    wh = np.tile([1000.0, 1002.0], (n, 1))
    pose = rng.normal(0, 300, size=(n, j, 3))
    pose -= pose[:, :1]
    return kp, wh, pose


def test_stats_hand_computed_and_standardisation() -> None:
    kp = np.array([[[0.0, 10.0], [2.0, 20.0]], [[4.0, 30.0], [6.0, 60.0]]])  # N=2, J=2
    pose = np.array([[[0, 0, 0], [1.0, 2.0, 3.0]], [[0, 0, 0], [3.0, 6.0, 9.0]]])
    stats = nz.compute_stats(kp, np.ones((2, 2)), pose, "zscore")
    np.testing.assert_allclose(stats.mean_2d, [2.0, 20.0, 4.0, 40.0])
    np.testing.assert_allclose(stats.std_2d, [2.0, 10.0, 2.0, 20.0])
    np.testing.assert_allclose(stats.mean_3d, [2.0, 4.0, 6.0])  # root dropped
    np.testing.assert_allclose(stats.std_3d, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(nz.normalize_2d(kp, np.ones((2, 2)), stats), [[-1] * 4, [1] * 4])
    np.testing.assert_allclose(nz.normalize_3d(pose, stats), [[-1, -1, -1], [1, 1, 1]])


def test_3d_round_trip_reinserts_the_root_at_zero() -> None:
    kp, wh, pose = _data()
    stats = nz.compute_stats(kp, wh, pose)
    y = nz.normalize_3d(pose, stats)
    assert y.shape == (50, 9)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-5)
    back = nz.denormalize_3d(y, stats)
    np.testing.assert_allclose(back, pose, atol=1e-3)
    assert (back[:, 0] == 0).all()


def test_missing_joint_becomes_the_training_mean() -> None:
    kp, wh, pose = _data()
    kp[:10, 2] = np.nan  # some rows lack joint 2
    kp[:, 3] = np.nan  # joint 3 never seen (like the Stacked Hourglass Neck)
    stats = nz.compute_stats(kp, wh, pose)
    np.testing.assert_allclose(stats.mean_2d[4:6], np.nanmean(kp[:, 2], axis=0))
    np.testing.assert_allclose(stats.mean_2d[6:8], [0.0, 0.0])
    np.testing.assert_allclose(stats.std_2d[6:8], [1.0, 1.0])
    x = nz.normalize_2d(kp, wh, stats)
    assert np.isfinite(x).all()
    np.testing.assert_array_equal(x[:10, 4:8], 0.0)
    filled = kp.copy()
    filled[:10, 2] = stats.mean_2d[4:6]  # NaN means "the mean": same input as filling the mean
    np.testing.assert_allclose(nz.normalize_2d(filled, wh, stats)[:, :6], x[:, :6], atol=1e-6)


def test_dropped_joints_leave_the_input() -> None:
    kp, wh, pose = _data()
    stats = nz.compute_stats(kp, wh, pose, input_joints=(0, 1, 3))
    x = nz.normalize_2d(kp, wh, stats)
    assert x.shape == (50, 6)
    kp2 = kp.copy()
    kp2[:, 2] = np.nan  # a dropped joint does not matter at all
    np.testing.assert_array_equal(nz.normalize_2d(kp2, wh, stats), x)
    with pytest.raises(ValueError, match="input_joints"):
        nz.compute_stats(kp, wh, pose, input_joints=(0, 7))


def test_image_mode_hand_computed() -> None:
    kp = np.array([[[500.0, 501.0], [1000.0, 0.0]]])
    out = nz.prepare_2d(kp, np.array([[1000.0, 1002.0]]), "image")
    np.testing.assert_allclose(out, [[[0.0, 0.0], [1.0, -1.002]]])


def test_root_scale_mode_ignores_position_and_size() -> None:
    kp, wh, _ = _data(n=3)
    a = nz.prepare_2d(kp, wh, "root_scale")
    b = nz.prepare_2d(2.5 * kp + 40.0, wh, "root_scale")
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(a[:, 0], 0.0)
    np.testing.assert_allclose(np.sqrt(np.mean(np.sum(a**2, axis=-1), axis=-1)), 1.0)


def test_bad_mode_joint_count_and_empty_set() -> None:
    kp, wh, pose = _data()
    with pytest.raises(ValueError, match="mode_2d"):
        nz.prepare_2d(kp, wh, "pixels")
    stats = nz.compute_stats(kp, wh, pose)
    with pytest.raises(ValueError, match="for 4 joints"):
        nz.normalize_2d(kp[:, :3], wh, stats)
    with pytest.raises(ValueError, match="empty"):
        nz.compute_stats(kp[:0], wh[:0], pose[:0])


def test_dict_round_trip() -> None:
    kp, wh, pose = _data()
    stats = nz.compute_stats(kp, wh, pose, "image", (0, 2))
    back = nz.NormStats.from_dict(stats.to_dict())
    assert back.mode_2d == "image" and back.input_joints == (0, 2) and back.num_joints == 4
    np.testing.assert_array_equal(back.std_3d, stats.std_3d)
    with pytest.raises(ValueError, match="mean_2d"):
        nz.NormStats.from_dict({k: v for k, v in stats.to_dict().items() if k != "mean_2d"})
