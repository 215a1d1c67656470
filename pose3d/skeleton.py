"""Skeleton definitions: the Human3.6M 32-joint mocap layout and the 17-joint subset.

The 17-joint order is the one used by 3d-pose-baseline, VideoPose3D, mmpose and the ECCV 2018
PoseTrack 3D challenge (see ../shared/data/README.md).
"""

from __future__ import annotations

import numpy as np

H36M17_JOINTS: tuple[str, ...] = (
    "Pelvis",
    "RHip",
    "RKnee",
    "RAnkle",
    "LHip",
    "LKnee",
    "LAnkle",
    "Spine",
    "Thorax",
    "Neck",
    "HeadTop",
    "LShoulder",
    "LElbow",
    "LWrist",
    "RShoulder",
    "RElbow",
    "RWrist",
)
NUM_JOINTS = len(H36M17_JOINTS)
ROOT = 0

# Parent of each H36M-17 joint (-1 for the root).
H36M17_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
# (left, right) joint pairs swapped by a horizontal flip.
H36M17_LR_PAIRS: tuple[tuple[int, int], ...] = (
    (4, 1),
    (5, 2),
    (6, 3),
    (11, 14),
    (12, 15),
    (13, 16),
)

# Indices of the 17 joints inside the 32-joint mocap skeleton of Human3.6M.
H36M32_TO_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
NUM_MOCAP_JOINTS = 32
# Parent of each of the 32 mocap joints (-1 for the root), as in the Human3.6M release.
H36M32_PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14,
    12, 16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30,
)  # fmt: skip

# Stacked Hourglass (MPII order, 16 joints) -> H36M-17 index. The H36M "Neck/Nose" (9) is missing.
MPII16_JOINTS: tuple[str, ...] = (
    "RAnkle", "RKnee", "RHip", "LHip", "LKnee", "LAnkle", "Pelvis", "Spine",
    "Thorax", "HeadTop", "RWrist", "RElbow", "RShoulder", "LShoulder", "LElbow", "LWrist",
)  # fmt: skip
MPII16_TO_H36M17: tuple[int, ...] = (3, 2, 1, 4, 5, 6, 0, 7, 8, 10, 16, 15, 14, 11, 12, 13)


def mocap32_to_h36m17(pose32: np.ndarray) -> np.ndarray:
    """Select the 17 standard joints from 32-joint mocap poses.

    Shapes: pose32 (..., 32, D) -> (..., 17, D).
    """
    if pose32.shape[-2] != NUM_MOCAP_JOINTS:
        raise ValueError(f"expected 32 mocap joints on axis -2, got shape {pose32.shape}")
    return pose32[..., list(H36M32_TO_17), :]


def mpii16_to_h36m17(kp16: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """Reorder 16 MPII-order keypoints into H36M-17; joints MPII lacks (Neck) get `fill`.

    Shapes: kp16 (..., 16, D) -> (..., 17, D).
    """
    if kp16.shape[-2] != len(MPII16_JOINTS):
        raise ValueError(f"expected 16 MPII joints on axis -2, got shape {kp16.shape}")
    out = np.full(kp16.shape[:-2] + (NUM_JOINTS, kp16.shape[-1]), fill, dtype=np.float64)
    out[..., list(MPII16_TO_H36M17), :] = kp16
    return out


def root_relative(pose: np.ndarray) -> np.ndarray:
    """Subtract the root joint. Shapes: pose (..., 17, 3) -> (..., 17, 3)."""
    return pose - pose[..., ROOT : ROOT + 1, :]


def flip_lr(kp: np.ndarray) -> np.ndarray:
    """Swap left and right joint labels (no coordinate change). Shapes: (..., 17, D)."""
    idx = list(range(NUM_JOINTS))
    for left, right in H36M17_LR_PAIRS:
        idx[left], idx[right] = right, left
    return kp[..., idx, :]
