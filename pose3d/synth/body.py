"""A 32-joint Human3.6M-style body: subject bone lengths, joint angles and forward kinematics.

Bone ``j`` joins joint ``H36M32_PARENTS[j]`` to joint ``j`` (the layout of the Human3.6M mocap,
so the 17 standard joints sit at `pose3d.skeleton.H36M32_TO_17`). As in the real data, some
extra mocap joints duplicate others (bones of length 0, and the two shoulder anchors that
coincide with the thorax). Base lengths are the means of subjects S1, S5, S6, S7 and S8.

Body frame (rest pose, heading 0): x to the subject's right, y forward, z up; world z is up
and millimetres throughout. Every bone carries a rotation relative to its parent bone, with
axes aligned to the body frame at rest, so ``G[j] = G[parent(j)] @ L[j]`` and
``joint[j] = joint[parent(j)] + G[j] @ (length[j] * direction[j])``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pose3d.formats.h36m import subject_number
from pose3d.skeleton import H36M32_PARENTS, NUM_MOCAP_JOINTS
from pose3d.synth.rng import rng_for

# Mean bone lengths (mm) of the real subjects, indexed by the bone's child joint.
BASE_BONE_MM: tuple[float, ...] = (
    0.0, 136.0, 452.0, 447.0, 160.0, 75.0,  # root; right hip offset, thigh, shin, foot, toe
    136.0, 452.0, 447.0, 160.0, 75.0,  # left leg
    0.0, 241.0, 255.0, 117.0, 115.0,  # spine base (= root), spine, thorax, neck/nose, head top
    255.0, 150.0, 282.0, 250.0, 0.0, 100.0, 100.0, 0.0,  # left: anchor, shoulder ... hand
    255.0, 150.0, 282.0, 250.0, 0.0, 100.0, 137.0, 0.0,  # right arm
)  # fmt: skip


def _unit(*v: float) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=np.float64)
    x, y, z = (a / np.linalg.norm(a)).tolist()
    return (x, y, z)


_UP, _DOWN = (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)
# Rest direction of each bone in the body frame (x right, y forward, z up).
REST_DIRECTIONS: tuple[tuple[float, float, float], ...] = (
    _UP, (1.0, 0.0, 0.0), _DOWN, _DOWN, _unit(0, 0.976, -0.22), (0.0, 1.0, 0.0),
    (-1.0, 0.0, 0.0), _DOWN, _DOWN, _unit(0, 0.976, -0.22), (0.0, 1.0, 0.0),
    _UP, _unit(0, -0.14, 0.99), _UP, _unit(0, 0.54, 0.84), _unit(0, -0.71, 0.7),
    _UP, _unit(-0.86, -0.1, -0.5), _DOWN, _DOWN, _DOWN, _unit(0.3, 0.5, -0.8), _DOWN, _DOWN,
    _UP, _unit(0.86, -0.1, -0.5), _DOWN, _DOWN, _DOWN, _unit(-0.3, 0.5, -0.8), _DOWN, _DOWN,
)  # fmt: skip

# Degrees of freedom of the procedural body, in degrees (heading about world z).
DOFS: tuple[str, ...] = (
    "heading", "pelvis_pitch", "pelvis_roll", "spine_bend", "spine_side", "spine_twist",
    "neck_pitch", "neck_yaw",
    "r_hip_flex", "r_hip_abd", "r_hip_rot", "r_knee", "r_ankle",
    "l_hip_flex", "l_hip_abd", "l_hip_rot", "l_knee", "l_ankle",
    "r_shoulder_flex", "r_shoulder_abd", "r_elbow", "l_shoulder_flex", "l_shoulder_abd", "l_elbow",
)  # fmt: skip

# Joint-angle limits (degrees, inclusive). Knees and elbows flex one way only (no hyper-extension).
JOINT_LIMITS_DEG: Mapping[str, tuple[float, float]] = {
    "pelvis_pitch": (-15.0, 45.0),
    "pelvis_roll": (-15.0, 15.0),
    "spine_bend": (-20.0, 80.0),
    "spine_side": (-30.0, 30.0),
    "spine_twist": (-45.0, 45.0),
    "neck_pitch": (-40.0, 50.0),
    "neck_yaw": (-70.0, 70.0),
    **{f"{s}_hip_flex": (-30.0, 130.0) for s in "rl"},
    **{f"{s}_hip_abd": (-20.0, 45.0) for s in "rl"},
    **{f"{s}_hip_rot": (-30.0, 30.0) for s in "rl"},
    **{f"{s}_knee": (0.0, 145.0) for s in "rl"},
    **{f"{s}_ankle": (-35.0, 30.0) for s in "rl"},
    **{f"{s}_shoulder_flex": (-50.0, 170.0) for s in "rl"},
    **{f"{s}_shoulder_abd": (-10.0, 160.0) for s in "rl"},
    **{f"{s}_elbow": (0.0, 145.0) for s in "rl"},
}


@dataclass(frozen=True)
class Body:
    """One subject's body. Shapes: bone_mm (32,), indexed by the bone's child joint."""

    subject: str
    bone_mm: np.ndarray
    girth: float  # limb thickness relative to the average build

    @property
    def height_mm(self) -> float:
        """Standing height from the foot to the head top (approximate)."""
        b = self.bone_mm
        return float(b[2] + b[3] + 60.0 + b[12] + b[13] + b[14] * 0.84 + b[15] * 0.7)


# Bones sharing one scale factor (left and right alike): legs, spine, neck, arms.
_BONE_GROUPS: tuple[tuple[int, ...], ...] = (
    (1, 6), (2, 7), (3, 8), (4, 9), (12,), (13, 16, 24), (14, 15), (17, 25), (18, 26), (19, 27),
)  # fmt: skip


def subject_body(subject: str, seed: int) -> Body:
    """Adult proportions varied per subject, deterministic in (seed, subject).

    Overall scale 0.92-1.08 of the average, each bone group a further +-6%.
    """
    rng = rng_for(seed, "body", subject_number(subject))
    bone = np.asarray(BASE_BONE_MM, dtype=np.float64) * rng.uniform(0.92, 1.08)
    for group in _BONE_GROUPS:
        bone[list(group)] *= float(np.clip(rng.normal(1.0, 0.03), 0.94, 1.06))
    return Body(subject=subject, bone_mm=bone, girth=float(rng.uniform(0.85, 1.2)))


def rot_x(deg: np.ndarray) -> np.ndarray:
    """Rotations about x. Shapes: (N,) degrees -> (N, 3, 3)."""
    a = np.deg2rad(np.asarray(deg, dtype=np.float64))
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], axis=-1).reshape(*a.shape, 3, 3)


def rot_y(deg: np.ndarray) -> np.ndarray:
    """Rotations about y. Shapes: (N,) degrees -> (N, 3, 3)."""
    a = np.deg2rad(np.asarray(deg, dtype=np.float64))
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], axis=-1).reshape(*a.shape, 3, 3)


def rot_z(deg: np.ndarray) -> np.ndarray:
    """Rotations about z. Shapes: (N,) degrees -> (N, 3, 3)."""
    a = np.deg2rad(np.asarray(deg, dtype=np.float64))
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], axis=-1).reshape(*a.shape, 3, 3)


def clip_to_limits(angles: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Clip every limited degree of freedom to `JOINT_LIMITS_DEG`."""
    out = {}
    for name, value in angles.items():
        lo, hi = JOINT_LIMITS_DEG.get(name, (-np.inf, np.inf))
        out[name] = np.clip(np.asarray(value, dtype=np.float64), lo, hi)
    return out


def _local_rotations(angles: Mapping[str, np.ndarray], n: int) -> dict[int, np.ndarray]:
    """Rotation of each articulated bone relative to its parent bone. Shapes: -> {bone: (N,3,3)}."""
    missing = [d for d in DOFS if d not in angles]
    if missing:
        raise ValueError(f"joint angles miss degree(s) of freedom {missing}")
    a = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for k, v in angles.items()}
    half = {k: a[f"spine_{k}"] / 2.0 for k in ("bend", "side", "twist")}
    spine = rot_z(half["twist"]) @ rot_y(half["side"]) @ rot_x(-half["bend"])
    local = {
        0: rot_z(a["heading"]) @ rot_x(-a["pelvis_pitch"]) @ rot_y(a["pelvis_roll"]),
        12: spine,
        13: spine,
        16: spine,
        24: spine,
        14: rot_z(a["neck_yaw"]) @ rot_x(-a["neck_pitch"]),
    }
    for side, thigh, sign in (("r", 2, -1.0), ("l", 7, 1.0)):
        local[thigh] = (
            rot_z(-sign * a[f"{side}_hip_rot"])
            @ rot_y(sign * a[f"{side}_hip_abd"])
            @ rot_x(a[f"{side}_hip_flex"])
        )
        local[thigh + 1] = rot_x(-a[f"{side}_knee"])
        local[thigh + 2] = rot_x(a[f"{side}_ankle"])
    for side, upper, sign in (("r", 26, -1.0), ("l", 18, 1.0)):
        local[upper] = rot_y(sign * a[f"{side}_shoulder_abd"]) @ rot_x(a[f"{side}_shoulder_flex"])
        local[upper + 1] = rot_x(a[f"{side}_elbow"])
    return local


def forward_kinematics(
    body: Body, angles: Mapping[str, np.ndarray], root_mm: np.ndarray
) -> np.ndarray:
    """Joint positions from joint angles (degrees, see `DOFS`) and the root's world position.

    Shapes: angles {name: (N,)}, root_mm (N, 3) -> (N, 32, 3) world mm.
    """
    root_mm = np.asarray(root_mm, dtype=np.float64)
    n = root_mm.shape[0]
    local = _local_rotations(angles, n)
    eye = np.broadcast_to(np.eye(3), (n, 3, 3))
    rest = np.asarray(REST_DIRECTIONS) * body.bone_mm[:, None]
    glob = np.empty((n, NUM_MOCAP_JOINTS, 3, 3))
    pos = np.empty((n, NUM_MOCAP_JOINTS, 3))
    for j, parent in enumerate(H36M32_PARENTS):
        parent_rot = eye if parent < 0 else glob[:, parent]
        glob[:, j] = parent_rot @ local[j] if j in local else parent_rot
        if parent < 0:
            pos[:, j] = root_mm
        else:
            pos[:, j] = pos[:, parent] + glob[:, j] @ rest[j]
    return pos


FOOT_JOINTS: tuple[int, ...] = (3, 4, 5, 8, 9, 10)
GROUND_CLEARANCE_MM = 20.0  # height of the lowest foot joint above the floor (z = 0)


def grounded(pose32_world_mm: np.ndarray) -> np.ndarray:
    """Shift each frame vertically so that its lowest foot joint is `GROUND_CLEARANCE_MM` up.

    Shapes: (N, 32, 3) -> (N, 32, 3).
    """
    lowest = pose32_world_mm[:, list(FOOT_JOINTS), 2].min(axis=1)
    out = pose32_world_mm.copy()
    out[..., 2] += (GROUND_CLEARANCE_MM - lowest)[:, None]
    return out
