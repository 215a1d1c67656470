from __future__ import annotations

import numpy as np
import pytest

from pose3d.synth.body import GROUND_CLEARANCE_MM, JOINT_LIMITS_DEG, subject_body
from pose3d.synth.motion import (
    ACTIONS,
    VOLUME_RADIUS_MM,
    action_kind,
    bump,
    make_motion,
    pose_sequence,
    smoothstep,
    wander,
)

FPS = 50.0


def _sequence(subject: str, action: str, seed: int = 0, n: int = 100) -> np.ndarray:
    return pose_sequence(subject_body(subject, seed), make_motion(subject, action, n, FPS, seed))


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_joint_angles_stay_within_limits(action: str) -> None:
    for subject, seed in (("S1", 0), ("S9", 1), ("S11", 2)):
        motion = make_motion(subject, action, 100, FPS, seed)
        for dof, (lo, hi) in JOINT_LIMITS_DEG.items():
            values = motion.angles[dof]
            assert values.min() >= lo and values.max() <= hi, (action, dof)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_knees_never_hyperextend(action: str) -> None:
    # thigh x shin points against the pelvis' right axis whenever the knee bends (the shin swings
    # backwards); a hyper-extended knee would flip the sign
    pose = _sequence("S7", action, seed=4)
    right_axis = pose[:, 1] - pose[:, 6]
    right_axis /= np.linalg.norm(right_axis, axis=-1, keepdims=True)
    for hip, knee, ankle in ((1, 2, 3), (6, 7, 8)):
        thigh, shin = pose[:, knee] - pose[:, hip], pose[:, ankle] - pose[:, knee]
        bend = np.einsum("nc,nc->n", np.cross(thigh, shin), right_axis)
        assert bend.max() <= 1e-6 * np.linalg.norm(thigh, axis=-1).max() ** 2


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_motion_is_deterministic_smooth_grounded_and_inside_the_volume(action: str) -> None:
    a = _sequence("S5", action)
    np.testing.assert_array_equal(a, _sequence("S5", action))
    assert not np.allclose(a, _sequence("S5", action, seed=1))
    speed_mm_s = np.linalg.norm(np.diff(a, axis=0), axis=-1).max() * FPS
    assert speed_mm_s < 6000.0  # no joint jumps (a fast hand moves ~5 m/s)
    lowest = a[:, [3, 4, 5, 8, 9, 10], 2].min(axis=1)
    np.testing.assert_allclose(lowest, GROUND_CLEARANCE_MM, atol=1e-9)
    assert np.linalg.norm(a[:, 0, :2], axis=-1).max() <= VOLUME_RADIUS_MM
    assert (a[..., 2] > 0.0).all()


def test_actions_look_like_their_names() -> None:
    walk = _sequence("S1", "Walking")
    assert np.linalg.norm(walk[-1, 0, :2] - walk[0, 0, :2]) > 1500.0  # ~1.2 m/s for 2 s
    sit = _sequence("S1", "SittingDown")
    assert sit[-1, 0, 2] < sit[0, 0, 2] - 300.0  # the pelvis drops onto the seat
    bend = _sequence("S1", "Bending")
    assert bend[:, 15, 2].min() < bend[0, 15, 2] - 300.0  # the head comes down
    still = _sequence("S1", "Gestures")
    assert np.linalg.norm(still[:, 0, :2] - still[0, 0, :2], axis=-1).max() < 1.0


def test_takes_differ_and_unknown_actions_are_rejected() -> None:
    assert action_kind("Walking 2") == "Walking"
    assert not np.allclose(_sequence("S1", "Walking"), _sequence("S1", "Walking 2"))
    with pytest.raises(ValueError, match="Dancing"):
        make_motion("S1", "Dancing", 10, FPS, 0)
    with pytest.raises(ValueError, match="Walking x"):
        action_kind("Walking x")
    with pytest.raises(ValueError, match="n_frames"):
        make_motion("S1", "Walking", 0, FPS, 0)


def test_easing_helpers() -> None:
    np.testing.assert_allclose(smoothstep(np.array([-1.0, 0.0, 0.5, 1.0, 2.0])), [0, 0, 0.5, 1, 1])
    t = np.array([0.0, 1.0, 1.5, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(bump(t, 1.0, 1.0, 1.0, 1.0), [0, 0, 0.5, 1, 1, 0])
    w = wander(np.random.default_rng(0), np.linspace(0, 3, 301), 0.5, -2.0, 5.0)
    assert w.min() >= -2.0 and w.max() <= 5.0 and np.abs(np.diff(w)).max() < 0.5
