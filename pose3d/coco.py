"""COCO-17 keypoints (the 17 person keypoints of COCO and most 2D detectors) mapped to the
Human3.6M 17 joints (`pose3d.skeleton`), for lifting 2D that other detectors give. The mapping
is an approximation (docs/predict.md): the anatomical landmarks COCO annotates are not the
mocap skeleton's joints.
"""

from __future__ import annotations

import numpy as np

# COCO-17 keypoints (COCO's person keypoints, in COCO's order).
COCO17_JOINTS: tuple[str, ...] = (
    "Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow",
    "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle",
)  # fmt: skip
# H36M-17 joints that are COCO keypoints as they are: H36M index -> COCO index.
COCO17_DIRECT: dict[int, int] = {
    1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15, 11: 5, 12: 7, 13: 9, 14: 6, 15: 8, 16: 10,
}  # fmt: skip
# COCO keypoints each H36M-17 joint is made from (its score is their mean score).
COCO17_SOURCES: tuple[tuple[int, ...], ...] = (
    (11, 12), (12,), (14,), (16,), (11,), (13,), (15,), (5, 6, 11, 12), (5, 6), (0, 1, 2, 3, 4),
    (0, 1, 2, 3, 4, 5, 6), (5,), (7,), (9,), (6,), (8,), (10,),
)  # fmt: skip
HEAD_TOP_EXTENSION = 0.5  # HeadTop = head centre + this x (head centre - Thorax)


def _present_mean(points: np.ndarray) -> np.ndarray:
    """Mean over axis -2 of the points that are finite; NaN where none is. (..., K, D) -> (..., D)."""
    present = np.isfinite(points).all(axis=-1, keepdims=True)
    count = present.sum(axis=-2)
    total = np.where(present, points, 0.0).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def coco17_to_h36m17(kp17: np.ndarray) -> np.ndarray:
    """COCO-17 keypoints -> the H36M-17 joints, an approximation (docs/predict.md).

    Limbs and hips are taken as they are; Pelvis = mid-hips, Thorax = mid-shoulders, Spine =
    mid Pelvis-Thorax (the four torso points' mean); Neck/Nose = the nose; the head centre is
    the mean of the ears seen (else the eyes, else the nose) and HeadTop = head centre +
    `HEAD_TOP_EXTENSION` x (head centre - Thorax). A missing (NaN) keypoint makes the joints
    built from it NaN (the head falls back as said). Shapes: (..., 17, D) -> (..., 17, D).
    """
    kp = np.asarray(kp17, dtype=np.float64)
    if kp.ndim < 2 or kp.shape[-2] != len(COCO17_JOINTS):
        raise ValueError(f"expected 17 COCO keypoints on axis -2, got shape {kp.shape}")
    out = np.full(kp.shape, np.nan)
    out[..., list(COCO17_DIRECT), :] = kp[..., list(COCO17_DIRECT.values()), :]
    pelvis = kp[..., [11, 12], :].mean(axis=-2)
    thorax = kp[..., [5, 6], :].mean(axis=-2)
    head = kp[..., 0, :]
    for group in ((1, 2), (3, 4)):  # later groups win where present: ears, else eyes, else nose
        centre = _present_mean(kp[..., list(group), :])
        head = np.where(np.isfinite(centre), centre, head)
    nose = kp[..., 0, :]
    out[..., 0, :] = pelvis
    out[..., 7, :] = 0.5 * (pelvis + thorax)
    out[..., 8, :] = thorax
    out[..., 9, :] = np.where(np.isfinite(nose), nose, head)
    out[..., 10, :] = head + HEAD_TOP_EXTENSION * (head - thorax)
    return out


def coco17_scores_to_h36m17(scores17: np.ndarray) -> np.ndarray:
    """Per-joint scores for `coco17_to_h36m17`'s joints: the mean score of the keypoints each
    is made from (`COCO17_SOURCES`). Shapes: (..., 17) -> (..., 17)."""
    scores = np.asarray(scores17, dtype=np.float64)
    if scores.ndim < 1 or scores.shape[-1] != len(COCO17_JOINTS):
        raise ValueError(f"expected 17 COCO scores on the last axis, got shape {scores.shape}")
    return np.stack([scores[..., list(src)].mean(axis=-1) for src in COCO17_SOURCES], axis=-1)
