"""3D pose error metrics (pure numpy), in the units of the inputs (millimetres here).

- Protocol 1: MPJPE after aligning the roots (``alignment="root"``).
- Protocol 2: MPJPE after a similarity (rotation, uniform scale, translation) Procrustes
  alignment of each predicted pose to its ground truth (``alignment="procrustes"``).
- Per action: the mean within each action, then the mean over actions (`mpjpe_per_action`).
- ECCV 2018 PoseTrack 3D challenge: the mean over frames and all 17 joints of root-relative
  poses with no further alignment (`challenge_mpjpe`).
"""

from __future__ import annotations

import numpy as np

ALIGNMENTS = ("none", "root", "procrustes")


def _check(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(
            f"expected pred and gt of equal shape (N, J, 3), got {pred.shape} and {gt.shape}"
        )
    if pred.shape[0] == 0:
        raise ValueError("no poses to evaluate (N = 0)")
    return pred, gt


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Similarity transform of each predicted pose that best fits its ground truth (least squares).

    Shapes: pred (N, J, 3), gt (N, J, 3) -> (N, J, 3) aligned pred.
    """
    pred, gt = _check(pred, gt)
    mu_p = pred.mean(axis=1, keepdims=True)
    mu_g = gt.mean(axis=1, keepdims=True)
    p0 = pred - mu_p
    g0 = gt - mu_g
    cov = np.einsum("nji,njk->nik", p0, g0)  # (N, 3, 3) = P^T G
    u, sig, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))  # avoid reflections
    sig = sig.copy()
    sig[:, 2] *= d
    u = u.copy()
    u[:, :, 2] *= d[:, None]
    rot = np.einsum("nij,njk->nik", u, vt)  # p0 @ rot ~ g0 / scale
    var_p = np.sum(p0**2, axis=(1, 2))
    scale = np.where(var_p > 0, sig.sum(axis=1) / np.where(var_p > 0, var_p, 1.0), 1.0)
    return scale[:, None, None] * np.einsum("nji,nik->njk", p0, rot) + mu_g


def joint_errors(
    pred: np.ndarray, gt: np.ndarray, alignment: str = "root", root: int = 0
) -> np.ndarray:
    """Euclidean error of every joint after `alignment` ("none", "root" or "procrustes").

    Shapes: pred (N, J, 3), gt (N, J, 3) -> (N, J).
    """
    pred, gt = _check(pred, gt)
    if alignment == "none":
        pass
    elif alignment == "root":
        pred = pred - pred[:, root : root + 1]
        gt = gt - gt[:, root : root + 1]
    elif alignment == "procrustes":
        pred = procrustes_align(pred, gt)
    else:
        raise ValueError(f"alignment {alignment!r}: expected one of {ALIGNMENTS}")
    return np.linalg.norm(pred - gt, axis=-1)


def mpjpe(pred: np.ndarray, gt: np.ndarray, alignment: str = "root") -> float:
    """Mean per-joint position error over all frames and joints. Shapes: (N, J, 3), (N, J, 3)."""
    return float(joint_errors(pred, gt, alignment).mean())


def mpjpe_per_joint(pred: np.ndarray, gt: np.ndarray, alignment: str = "root") -> np.ndarray:
    """Mean error of each joint over frames. Shapes: (N, J, 3), (N, J, 3) -> (J,)."""
    return joint_errors(pred, gt, alignment).mean(axis=0)


def mpjpe_per_action(
    pred: np.ndarray, gt: np.ndarray, actions: np.ndarray, alignment: str = "root"
) -> tuple[float, dict[str, float]]:
    """Mean within each action, then the unweighted mean over actions.

    Shapes: pred (N, J, 3), gt (N, J, 3), actions (N,) labels. Returns (mean, {action: mpjpe}).
    """
    per_frame = joint_errors(pred, gt, alignment).mean(axis=1)
    actions = np.asarray(actions)
    if actions.shape != per_frame.shape:
        raise ValueError(f"actions: expected shape {per_frame.shape}, got {actions.shape}")
    table = {str(a): float(per_frame[actions == a].mean()) for a in np.unique(actions)}
    return float(np.mean(list(table.values()))), table


def challenge_mpjpe(pred_rel: np.ndarray, gt_rel: np.ndarray) -> float:
    """ECCV 2018 challenge metric: mean over frames and all 17 joints of root-relative poses,
    no alignment. Shapes: (N, 17, 3), (N, 17, 3)."""
    pred_rel, gt_rel = _check(pred_rel, gt_rel)
    if pred_rel.shape[1] != 17:
        raise ValueError(f"the challenge metric is defined on 17 joints, got {pred_rel.shape[1]}")
    return mpjpe(pred_rel, gt_rel, alignment="none")
