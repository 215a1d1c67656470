"""Procedural human motion: smooth joint-angle trajectories for a few everyday actions.

An action name is one of `ACTIONS` (``Walking``, ``Turning``, ``SittingDown``, ``Bending``,
``Gestures``), optionally followed by a space and a take number as in Human3.6M
(``"Walking 1"``): another take of the same action, with other random choices. Every sequence is
deterministic in (seed, subject, action) and moves the root around a capture volume centred on
the world origin (floor at z = 0). Angles are clipped to `pose3d.synth.body.JOINT_LIMITS_DEG`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pose3d.formats.h36m import subject_number
from pose3d.synth.body import DOFS, Body, clip_to_limits, forward_kinematics, grounded
from pose3d.synth.rng import rng_for

VOLUME_RADIUS_MM = 2000.0  # the root stays within this distance of the volume centre

Angles = dict[str, np.ndarray]


@dataclass(frozen=True)
class Motion:
    """Joint angles (degrees) and the root's floor position of one sequence.

    Shapes: angles {dof: (N,)}, root_xy_mm (N, 2).
    """

    action: str
    fps: float
    angles: dict[str, np.ndarray]
    root_xy_mm: np.ndarray
    anchor_feet: bool  # keep the feet in place (the pelvis moves instead)

    @property
    def n_frames(self) -> int:
        return int(self.root_xy_mm.shape[0])


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, C1-smooth in between. Shapes: any -> same."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def bump(t: np.ndarray, start: float, rise: float, hold: float, fall: float) -> np.ndarray:
    """0 -> 1 -> 0: rises over `rise` s from `start`, holds, falls over `fall` s. Shapes: (N,)."""
    up = smoothstep((t - start) / rise)
    down = smoothstep((t - start - rise - hold) / fall)
    return up * (1.0 - down)


def wander(
    rng: np.random.Generator, t: np.ndarray, period_s: float, lo: float, hi: float
) -> np.ndarray:
    """A smooth random curve within [lo, hi]: random knots every `period_s`, eased between.

    Shapes: t (N,) seconds -> (N,).
    """
    n_knots = int(np.ceil((t[-1] if len(t) else 0.0) / period_s)) + 2
    knots = rng.uniform(lo, hi, size=n_knots)
    pos = t / period_s
    i = np.clip(np.floor(pos).astype(int), 0, n_knots - 2)
    w = smoothstep(pos - i)
    return knots[i] * (1.0 - w) + knots[i + 1] * w


def _idle(rng: np.random.Generator, t: np.ndarray) -> Angles:
    """A relaxed standing posture with slow random sway."""
    w = lambda lo, hi, period=1.2: wander(rng, t, period, lo, hi)  # noqa: E731
    a: Angles = {dof: np.zeros_like(t) for dof in DOFS}
    a.update(
        pelvis_pitch=w(-2, 5), pelvis_roll=w(-3, 3), spine_bend=w(0, 8), spine_side=w(-3, 3),
        spine_twist=w(-6, 6), neck_pitch=w(-5, 15), neck_yaw=w(-25, 25, 1.5),
        r_hip_abd=w(2, 8), l_hip_abd=w(2, 8), r_hip_rot=w(-5, 10), l_hip_rot=w(-5, 10),
        r_knee=w(2, 8), l_knee=w(2, 8), r_ankle=w(-3, 3), l_ankle=w(-3, 3),
        r_shoulder_flex=w(-5, 12), l_shoulder_flex=w(-5, 12),
        r_shoulder_abd=w(6, 15), l_shoulder_abd=w(6, 15), r_elbow=w(5, 30), l_elbow=w(5, 30),
    )  # fmt: skip
    for side in "rl":
        a[f"{side}_hip_flex"] = a["pelvis_pitch"] + w(0, 5)
    return a


def _flat_feet(a: Angles) -> None:
    """Add to each ankle the angle that keeps the foot level with the floor (limits clip it)."""
    for side in "rl":
        shin_world = a[f"{side}_hip_flex"] - a["pelvis_pitch"] - a[f"{side}_knee"]
        a[f"{side}_ankle"] = a[f"{side}_ankle"] - shin_world


def _place(rng: np.random.Generator, n: int, max_r_mm: float = 1000.0) -> np.ndarray:
    """A fixed random floor position within `max_r_mm` of the centre. Shapes: -> (N, 2)."""
    r, th = max_r_mm * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
    return np.tile([r * np.cos(th), r * np.sin(th)], (n, 1))


def _walking(rng: np.random.Generator, t: np.ndarray, a: Angles) -> tuple[np.ndarray, bool]:
    speed = rng.uniform(1000.0, 1500.0)  # mm/s
    radius = rng.uniform(1200.0, 1700.0)
    centre = _place(rng, 1, VOLUME_RADIUS_MM - radius)[0]
    turn = rng.choice([-1.0, 1.0])
    theta = rng.uniform(0, 2 * np.pi) + turn * speed * t / radius
    root = centre + radius * np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    tangent = turn * np.stack([-np.sin(theta), np.cos(theta)], axis=-1)
    a["heading"] = np.degrees(np.unwrap(np.arctan2(-tangent[:, 0], tangent[:, 1])))
    phase = 2 * np.pi * speed / rng.uniform(1250.0, 1500.0) * t + rng.uniform(0, 2 * np.pi)
    swing = rng.uniform(0.8, 1.2)
    for side, ph in (("r", phase), ("l", phase + np.pi)):
        a[f"{side}_hip_flex"] = a["pelvis_pitch"] + 5 + 17 * np.sin(ph)
        a[f"{side}_knee"] = 5 + 60 * ((1 + np.cos(ph + 0.2)) / 2) ** 2
        a[f"{side}_shoulder_flex"] = -swing * 18 * np.sin(ph) + 3
        a[f"{side}_elbow"] = 15 + swing * 10 * (1 - np.sin(ph))
    a["pelvis_roll"] = a["pelvis_roll"] + 4 * np.sin(phase)
    a["spine_twist"] = 8 * np.sin(phase)
    return root, False


def _turning(rng: np.random.Generator, t: np.ndarray, a: Angles) -> tuple[np.ndarray, bool]:
    T = t[-1] if t[-1] > 0 else 1.0
    total = rng.choice([-1.0, 1.0]) * rng.uniform(90.0, 200.0)
    start, dur = rng.uniform(0.05, 0.25) * T, rng.uniform(0.5, 0.7) * T
    s = smoothstep((t - start) / dur)
    a["heading"] = rng.uniform(0, 360) + total * s
    active = bump(t, start, 0.2 * dur, 0.6 * dur, 0.2 * dur)
    phase = 2 * np.pi * rng.uniform(1.2, 1.8) * (t - start)
    for side, ph in (("r", phase), ("l", phase + np.pi)):
        lift = active * np.clip(np.sin(ph), 0, None)
        a[f"{side}_hip_flex"] = a[f"{side}_hip_flex"] + 25 * lift
        a[f"{side}_knee"] = a[f"{side}_knee"] + 40 * lift
    a["neck_yaw"] = a["neck_yaw"] * (1 - active) + np.sign(total) * 30 * active
    return _place(rng, len(t)), False


def _sitting_down(rng: np.random.Generator, t: np.ndarray, a: Angles) -> tuple[np.ndarray, bool]:
    T = t[-1] if t[-1] > 0 else 1.0
    start, dur = rng.uniform(0.05, 0.25) * T, rng.uniform(0.45, 0.6) * T
    s = smoothstep((t - start) / dur)
    lean = bump(t, start, 0.4 * dur, 0.1 * dur, 0.5 * dur)
    a["heading"] = np.full_like(t, rng.uniform(0, 360))
    a["pelvis_pitch"] = a["pelvis_pitch"] + 25 * lean + 8 * s
    a["spine_bend"] = a["spine_bend"] + 15 * lean
    a["neck_pitch"] = a["neck_pitch"] - 10 * lean
    seat = rng.uniform(80.0, 95.0)
    for side in "rl":
        a[f"{side}_hip_flex"] = a["pelvis_pitch"] + 3 + (seat - 3) * s
        a[f"{side}_knee"] = a[f"{side}_knee"] + (seat - 5) * s
        a[f"{side}_shoulder_flex"] = a[f"{side}_shoulder_flex"] + 35 * lean + 15 * s
        a[f"{side}_elbow"] = a[f"{side}_elbow"] + 40 * s
    return _place(rng, len(t)), True


def _bending(rng: np.random.Generator, t: np.ndarray, a: Angles) -> tuple[np.ndarray, bool]:
    T = t[-1] if t[-1] > 0 else 1.0
    start = rng.uniform(0.05, 0.15) * T
    b = bump(t, start, 0.3 * T, rng.uniform(0.1, 0.25) * T, 0.3 * T)
    a["heading"] = np.full_like(t, rng.uniform(0, 360))
    pitch, bend, knee = rng.uniform(20, 35), rng.uniform(45, 75), rng.uniform(10, 40)
    reach = rng.uniform(0.8, 1.2)
    a["pelvis_pitch"] = a["pelvis_pitch"] + pitch * b
    a["spine_bend"] = a["spine_bend"] + bend * b
    a["neck_pitch"] = a["neck_pitch"] - 25 * b
    for side in "rl":
        a[f"{side}_knee"] = a[f"{side}_knee"] + knee * b
        a[f"{side}_hip_flex"] = a[f"{side}_hip_flex"] + (pitch + knee / 2) * b
        a[f"{side}_shoulder_flex"] = a[f"{side}_shoulder_flex"] + reach * (pitch + bend) * b
    return _place(rng, len(t)), True


def _gestures(rng: np.random.Generator, t: np.ndarray, a: Angles) -> tuple[np.ndarray, bool]:
    a["heading"] = rng.uniform(0, 360) + wander(rng, t, 1.5, -20, 20)
    lead = rng.choice(["r", "l"])
    for side in "rl":
        period = rng.uniform(0.45, 0.8) if side == lead else rng.uniform(0.8, 1.4)
        top = 150.0 if side == lead else 80.0
        a[f"{side}_shoulder_flex"] = wander(rng, t, period, -20, top)
        a[f"{side}_shoulder_abd"] = wander(rng, t, period, 0, top * 0.8)
        a[f"{side}_elbow"] = wander(rng, t, period, 0, 130)
    a["spine_twist"] = wander(rng, t, 1.0, -20, 20)
    a["neck_yaw"] = wander(rng, t, 1.0, -40, 40)
    return _place(rng, len(t)), False


ActionFn = Callable[[np.random.Generator, np.ndarray, Angles], tuple[np.ndarray, bool]]
ACTIONS: dict[str, ActionFn] = {
    "Walking": _walking,
    "Turning": _turning,
    "SittingDown": _sitting_down,
    "Bending": _bending,
    "Gestures": _gestures,
}


def action_kind(action: str) -> str:
    """'Walking 1' -> 'Walking'; raises ValueError for an unknown action."""
    kind = action.split(" ", 1)[0]
    take = action.split(" ", 1)[1] if " " in action else "0"
    if kind not in ACTIONS or not take.isdigit():
        raise ValueError(
            f"unknown action {action!r}: expected one of {sorted(ACTIONS)}, optionally "
            "followed by a space and a take number"
        )
    return kind


def make_motion(subject: str, action: str, n_frames: int, fps: float, seed: int) -> Motion:
    """The joint angles and root path of one (subject, action) sequence."""
    if n_frames < 1 or fps <= 0:
        raise ValueError(f"need n_frames >= 1 and fps > 0, got {n_frames} and {fps}")
    kind = action_kind(action)
    rng = rng_for(seed, "motion", subject_number(subject), action)
    t = np.arange(n_frames, dtype=np.float64) / fps
    angles = _idle(rng, t)
    root_xy, anchor = ACTIONS[kind](rng, t, angles)
    _flat_feet(angles)
    return Motion(action, fps, clip_to_limits(angles), np.asarray(root_xy), anchor)


def pose_sequence(body: Body, motion: Motion) -> np.ndarray:
    """World joint positions of `body` performing `motion`, feet on the floor.

    Shapes: -> (N, 32, 3) world mm.
    """
    root = np.zeros((motion.n_frames, 3))
    root[:, :2] = motion.root_xy_mm
    pose = forward_kinematics(body, motion.angles, root)
    if motion.anchor_feet:
        ankles_xy = pose[:, [3, 8], :2].mean(axis=1)
        pose[..., :2] -= (ankles_xy - ankles_xy[:1])[:, None, :]
    return grounded(pose)
