from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose3d.formats.h36m import read_positions
from pose3d.skeleton import H36M32_PARENTS
from pose3d.synth.body import (
    DOFS,
    GROUND_CLEARANCE_MM,
    JOINT_LIMITS_DEG,
    clip_to_limits,
    forward_kinematics,
    grounded,
    rot_z,
    subject_body,
)
from pose3d.synth.motion import ACTIONS, make_motion, pose_sequence


def _bone_lengths(pose32: np.ndarray) -> np.ndarray:
    """(N, 32, 3) -> (N, 31) lengths of the bones to joints 1..31."""
    parents = np.array(H36M32_PARENTS[1:])
    return np.linalg.norm(pose32[:, 1:] - pose32[:, parents], axis=-1)


def _rest(n: int = 1) -> dict[str, np.ndarray]:
    return {dof: np.zeros(n) for dof in DOFS}


def test_rest_pose_stands_upright_with_hand_computed_joints() -> None:
    body = subject_body("S1", 0)
    b = body.bone_mm
    pose = forward_kinematics(body, _rest(), np.zeros((1, 3)))[0]
    np.testing.assert_allclose(pose[1], [b[1], 0, 0], atol=1e-9)  # right hip to the right (+x)
    np.testing.assert_allclose(pose[6], [-b[6], 0, 0], atol=1e-9)
    np.testing.assert_allclose(pose[3], [b[1], 0, -b[2] - b[3]], atol=1e-9)  # straight leg
    np.testing.assert_allclose(pose[13], [0, -0.14 / np.hypot(0.14, 0.99) * b[12], 0.99 / np.hypot(0.14, 0.99) * b[12] + b[13]], atol=1e-9)  # fmt: skip
    # duplicated mocap joints coincide, as in the real data
    for a, c in ((0, 11), (13, 16), (13, 24), (19, 20), (22, 23), (27, 28), (30, 31)):
        np.testing.assert_allclose(pose[a], pose[c], atol=1e-9)


def test_heading_turns_the_body_about_the_vertical() -> None:
    body = subject_body("S1", 0)
    angles = _rest()
    angles["heading"] = np.array([90.0])
    turned = forward_kinematics(body, angles, np.zeros((1, 3)))[0]
    rest = forward_kinematics(body, _rest(), np.zeros((1, 3)))[0]
    np.testing.assert_allclose(turned, rest @ rot_z(np.array([90.0]))[0].T, atol=1e-9)
    # heading 90 degrees: the right hip, at +x at rest, is now at +y
    np.testing.assert_allclose(turned[1, :2], [0.0, body.bone_mm[1]], atol=1e-9)


def test_knee_flexion_moves_the_ankle_backwards() -> None:
    body = subject_body("S5", 0)
    angles = _rest()
    angles["r_knee"] = np.array([90.0])
    pose = forward_kinematics(body, angles, np.zeros((1, 3)))[0]
    np.testing.assert_allclose(pose[3] - pose[2], [0.0, -body.bone_mm[3], 0.0], atol=1e-9)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_bone_lengths_are_constant_over_time(action: str) -> None:
    body = subject_body("S6", 3)
    pose = pose_sequence(body, make_motion("S6", action, 60, 50.0, 3))
    lengths = _bone_lengths(pose)
    np.testing.assert_allclose(lengths, np.broadcast_to(body.bone_mm[1:], lengths.shape), atol=1e-6)


def test_subjects_differ_and_bodies_are_deterministic() -> None:
    a, b = subject_body("S1", 0), subject_body("S5", 0)
    assert np.abs(a.bone_mm - b.bone_mm).max() > 5.0
    np.testing.assert_array_equal(a.bone_mm, subject_body("S1", 0).bone_mm)
    assert not np.array_equal(a.bone_mm, subject_body("S1", 1).bone_mm)  # the seed matters
    # left and right limbs are the same length
    np.testing.assert_array_equal(a.bone_mm[1:6], a.bone_mm[6:11])
    np.testing.assert_array_equal(a.bone_mm[17:20], a.bone_mm[25:28])


def test_adult_proportions() -> None:
    heights = [subject_body(f"S{n}", seed).height_mm for n in range(1, 12) for seed in range(3)]
    # the mocap head-top marker of the real subjects stands 1.55-1.75 m high
    assert min(heights) > 1400.0 and max(heights) < 1900.0
    assert np.std(heights) > 20.0


def test_proportions_close_to_real_subjects(shared_data: Path) -> None:
    real = read_positions(shared_data / "h36m" / "S1" / "MyPoses" / "3D_positions" / "Walking.h5")
    real_len = _bone_lengths(real[:1])[0]
    for n in (1, 5, 9):
        ours = subject_body(f"S{n}", 0).bone_mm[1:]
        long = real_len > 50.0  # the real marker offsets (hands, toes) are fixed, not anatomy
        ratio = ours[long] / real_len[long]
        assert ratio.min() > 0.75 and ratio.max() < 1.3, ratio
        assert np.array_equal(ours < 1.0, real_len < 1.0)  # the same duplicated joints


def test_clip_to_limits_and_grounding() -> None:
    clipped = clip_to_limits(
        {"r_knee": np.array([-10.0, 50.0, 200.0]), "heading": np.array([720.0])}
    )
    np.testing.assert_array_equal(clipped["r_knee"], [0.0, 50.0, JOINT_LIMITS_DEG["r_knee"][1]])
    np.testing.assert_array_equal(clipped["heading"], [720.0])  # no limit
    pose = np.zeros((2, 32, 3))
    pose[1, :, 2] = 500.0
    pose[1, 4, 2] = 100.0  # the lowest foot joint
    out = grounded(pose)
    assert out[0, 3, 2] == GROUND_CLEARANCE_MM and out[1, 4, 2] == GROUND_CLEARANCE_MM
    assert out[1, 0, 2] == 500.0 - 100.0 + GROUND_CLEARANCE_MM


def test_missing_degree_of_freedom_is_named() -> None:
    angles = _rest()
    del angles["l_elbow"]
    with pytest.raises(ValueError, match="l_elbow"):
        forward_kinematics(subject_body("S1", 0), angles, np.zeros((1, 3)))
