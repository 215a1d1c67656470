from __future__ import annotations

import numpy as np
import pytest

from pose3d import metrics
from pose3d.metrics import LIMB_PAIRS, left_right_ratio, swap_share
from pose3d.skeleton import H36M17_JOINTS, flip_lr


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def test_protocol1_hand_computed() -> None:
    gt = np.zeros((1, 3, 3))
    gt[0, 1] = [100.0, 0, 0]
    gt[0, 2] = [0, 100.0, 0]
    pred = gt.copy()
    pred[0, 1] += [3.0, 4.0, 0.0]  # error 5
    pred[0, 2] += [0.0, 0.0, 12.0]  # error 12
    assert metrics.mpjpe(pred, gt, "root") == pytest.approx((0 + 5 + 12) / 3)
    np.testing.assert_allclose(metrics.joint_errors(pred, gt, "root"), [[0.0, 5.0, 12.0]])


def test_protocol1_removes_a_root_translation_but_none_does_not() -> None:
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4, 17, 3)) * 200
    pred = gt + np.array([10.0, -20.0, 5.0])
    assert metrics.mpjpe(pred, gt, "root") == pytest.approx(0.0, abs=1e-9)
    assert metrics.mpjpe(pred, gt, "none") == pytest.approx(np.sqrt(100 + 400 + 25))


def test_protocol2_maps_a_rotated_scaled_translated_copy_to_zero() -> None:
    rng = np.random.default_rng(1)
    gt = rng.normal(size=(3, 17, 3)) * 300
    rot = _rotation(np.array([1.0, 2.0, -0.5]), 0.7)
    pred = 1.7 * gt @ rot.T + np.array([50.0, -300.0, 4000.0])
    assert metrics.mpjpe(pred, gt, "root") > 100  # far apart before the alignment
    assert metrics.mpjpe(pred, gt, "procrustes") == pytest.approx(0.0, abs=1e-8)
    np.testing.assert_allclose(metrics.procrustes_align(pred, gt), gt, atol=1e-8)


def test_protocol2_does_not_use_reflections() -> None:
    rng = np.random.default_rng(2)
    gt = rng.normal(size=(1, 17, 3)) * 300
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert metrics.mpjpe(mirrored, gt, "procrustes") > 10.0


def test_protocol2_is_not_worse_than_protocol1() -> None:
    rng = np.random.default_rng(3)
    gt = rng.normal(size=(20, 17, 3)) * 300
    gt -= gt[:, :1]
    pred = gt + rng.normal(size=gt.shape) * 30
    assert metrics.mpjpe(pred, gt, "procrustes") <= metrics.mpjpe(pred, gt, "root")


def test_per_action_averages_within_then_over_actions() -> None:
    gt = np.zeros((3, 2, 3))
    pred = gt.copy()
    pred[0, 1, 0] = 2.0  # frame errors (mean over 2 joints): 1, 3, 10
    pred[1, 1, 0] = 6.0
    pred[2, 1, 0] = 20.0
    mean, table = metrics.mpjpe_per_action(pred, gt, np.array(["A", "A", "B"]), "root")
    assert table == pytest.approx({"A": 2.0, "B": 10.0})
    assert mean == pytest.approx(6.0)  # not the frame mean 14 / 3
    assert metrics.mpjpe(pred, gt) == pytest.approx(14 / 3)


def test_per_joint_hand_computed() -> None:
    gt = np.zeros((2, 2, 3))
    pred = gt.copy()
    pred[0, 1] = [0.0, 3.0, 4.0]
    pred[1, 1] = [0.0, 0.0, 1.0]
    np.testing.assert_allclose(metrics.mpjpe_per_joint(pred, gt), [0.0, 3.0])


def test_challenge_metric_uses_all_17_root_relative_joints_without_alignment() -> None:
    gt = np.zeros((2, 17, 3))
    pred = gt.copy()
    pred[0, 5] = [17.0, 0.0, 0.0]
    pred[1, 0] = [0.0, 34.0, 0.0]  # a predicted root off the origin counts as it is
    assert metrics.challenge_mpjpe(pred, gt) == pytest.approx((17 + 34) / 34)
    with pytest.raises(ValueError, match="17 joints"):
        metrics.challenge_mpjpe(pred[:, :16], gt[:, :16])


def test_bad_inputs_raise_value_error() -> None:
    a = np.zeros((2, 17, 3))
    with pytest.raises(ValueError, match="alignment"):
        metrics.mpjpe(a, a, "rigid")
    with pytest.raises(ValueError, match="equal shape"):
        metrics.mpjpe(a, a[:, :16])
    with pytest.raises(ValueError, match="N = 0"):
        metrics.mpjpe(a[:0], a[:0])
    with pytest.raises(ValueError, match="actions"):
        metrics.mpjpe_per_action(a, a, np.array(["A"]))


def test_left_right_ratio_and_swap_share_tell_a_model_that_knows_limbs_from_one_that_does_not():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 200, (50, 17, 2))
    assert left_right_ratio(truth, truth) == 1.0 and swap_share(truth, truth) == 0.0
    mirrored = flip_lr(truth)  # every left joint where its right twin is: the labels swapped
    assert (
        left_right_ratio(mirrored, truth) == pytest.approx(1.0)
        and swap_share(mirrored, truth) == 1.0
    )
    collapsed = truth.copy()  # each left limb joint on top of its right twin, both between
    for left, right in LIMB_PAIRS:
        collapsed[:, [left, right]] = (truth[:, [left]] + truth[:, [right]]) / 2
    assert left_right_ratio(collapsed, truth) == 0.0 and swap_share(collapsed, truth) == 0.0
    half = np.where(np.arange(50)[:, None, None] % 2 == 0, mirrored, truth)
    assert swap_share(half, truth) == 0.5
    unknown = truth.copy()
    unknown[:10, LIMB_PAIRS[0][0]] = np.nan  # no left knee: those poses are not counted
    assert swap_share(np.where(np.isnan(unknown), np.nan, mirrored), unknown) == 1.0
    assert np.isnan(left_right_ratio(truth[:0], truth[:0]))
    assert np.isnan(swap_share(truth[:0], truth[:0]))


def _standing(turn_deg: float) -> np.ndarray:
    """An H36M-17 pose in the camera frame (root-relative, y down), turned about the vertical by
    `turn_deg` from facing the camera. Shapes: -> (17, 3)."""
    pose = np.zeros((17, 3))
    names = {"Thorax": (0, -500, 0), "LShoulder": (200, -480, 0), "RShoulder": (-200, -480, 0),
             "Spine": (0, -250, 0), "LHip": (120, 0, 0), "RHip": (-120, 0, 0)}  # fmt: skip
    for name, xyz in names.items():
        pose[H36M17_JOINTS.index(name)] = xyz
    t = np.radians(turn_deg)
    turn = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
    return pose @ turn.T


def test_facing_camera_tells_front_side_and_back_and_swaps_are_counted_per_facing() -> None:
    poses = np.stack([_standing(a) for a in (0, 30, 90, 180, 200)])
    root = np.array([[0, 0, 5000.0]] * 4 + [[np.nan] * 3])  # no root: the optical axis
    facing = metrics.facing_camera(poses, root)
    assert facing[0] == pytest.approx(1.0, abs=0.01) and facing[3] == pytest.approx(-1.0, abs=0.01)
    assert facing[1] == pytest.approx(np.cos(np.radians(30)), abs=0.01)
    assert abs(facing[2]) < 0.01 and facing[4] == pytest.approx(np.cos(np.radians(200)))
    # off-centre people: the way to the camera, not the optical axis
    off = metrics.facing_camera(poses[:1], np.array([[5000.0, 0, 5000.0]]))
    assert off[0] == pytest.approx(np.cos(np.radians(45)), abs=0.01)

    rng = np.random.default_rng(1)
    truth = rng.uniform(0, 200, (6, 17, 2))
    pred = truth.copy()
    pred[[1, 4, 5]] = flip_lr(truth[[1, 4, 5]])  # a side view and both seen from behind swapped
    by = metrics.swap_share_by_facing(pred, truth, np.array([1.0, 0.0, 0.9, -0.2, -0.9, -1.0]))
    assert by == {"front": 0.0, "side": 0.5, "back": 1.0}
    by = metrics.swap_share_by_facing(pred[:2], truth[:2], np.array([1.0, np.nan]))
    assert by["front"] == 0.0 and np.isnan(by["side"]) and np.isnan(by["back"])
    with pytest.raises(ValueError, match="facing"):
        metrics.swap_share_by_facing(pred, truth, np.zeros(3))
    with pytest.raises(ValueError, match="pose3d_cam_mm"):
        metrics.facing_camera(poses[:, :16], root)
