"""3D pose error metrics (pure numpy), in the units of the inputs (millimetres here).

- Protocol 1: MPJPE after aligning the roots (``alignment="root"``).
- Protocol 2: MPJPE after a similarity (rotation, uniform scale, translation) Procrustes
  alignment of each predicted pose to its ground truth (``alignment="procrustes"``).
- Per action: the mean within each action, then the mean over actions (`mpjpe_per_action`).
- 2D: pixel distances, PCK named for its normaliser, whether left and right limbs are told
  apart (`left_right_ratio`, `swap_share`), box IoU, AP and best-box recall of one-person
  images (below).
- ECCV 2018 PoseTrack 3D challenge: the mean over frames and all 17 joints of root-relative
  poses with no further alignment (`challenge_mpjpe`).
"""

from __future__ import annotations

import math

import numpy as np

from pose3d.skeleton import H36M17_JOINTS

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


# 2D keypoints and person boxes --------------------------------------------------------------
# PCK is named for what it divides by: ``pck10_box`` (10% of the box's longest side, the CPN's
# held-out score on its ground-truth crops) and ``pck10_height`` (10% of the person's height in
# the image, the labelled 2D's vertical extent: the route's caches and the lifter's rows).


def keypoint_distances(pred_px: np.ndarray, truth_px: np.ndarray) -> np.ndarray:
    """Pixel distance of each predicted joint to its truth: NaN where the truth is missing (not
    counted), inf where the truth is labelled but the prediction is missing (a miss).

    Shapes: pred_px (N, J, 2), truth_px (N, J, 2) -> (N, J)."""
    pred, truth = np.asarray(pred_px, np.float64), np.asarray(truth_px, np.float64)
    if pred.shape != truth.shape or pred.ndim != 3 or pred.shape[2] != 2:
        raise ValueError(f"pred {pred.shape}, truth {truth.shape}: expected (N, J, 2) twice")
    labelled = np.all(np.isfinite(truth), axis=-1)
    dist = np.linalg.norm(pred - truth, axis=-1)
    return np.where(labelled, np.where(np.isfinite(dist), dist, np.inf), np.nan)


def box_side(box_xyxy_px: np.ndarray) -> np.ndarray:
    """The longest side of each box. Shapes: (N, 4) -> (N,)."""
    boxes = np.asarray(box_xyxy_px, np.float64).reshape(-1, 4)
    return np.max(boxes[:, 2:] - boxes[:, :2], axis=1)


def person_height(kp2d_px: np.ndarray) -> np.ndarray:
    """The vertical extent of each labelled pose (missing joints ignored). Shapes: (N, J, 2) ->
    (N,)."""
    ys = np.asarray(kp2d_px, np.float64)[..., 1]
    with np.errstate(invalid="ignore"):
        return np.nanmax(ys, axis=1) - np.nanmin(ys, axis=1)


def pck(distances_px: np.ndarray, normalizer_px: np.ndarray, fraction: float) -> float:
    """Percentage of correct keypoints as a share: the labelled joints (distance not NaN) within
    `fraction` times their pose's `normalizer_px` (a box side or a person height; name the
    metric for it). NaN when no joint is labelled. Shapes: distances (N, J), normalizer (N,)."""
    dist = np.asarray(distances_px, np.float64)
    norm = np.asarray(normalizer_px, np.float64)
    if dist.ndim != 2 or norm.shape != (len(dist),):
        raise ValueError(f"distances {dist.shape}, normalizer {norm.shape}: expected (N, J), (N,)")
    labelled = ~np.isnan(dist)
    n = int(labelled.sum())
    if n == 0:
        return float("nan")
    with np.errstate(invalid="ignore"):
        hit = labelled & (dist <= fraction * norm[:, None])
    return float(hit.sum() / n)


# The limb joints whose left and right a 2D model must tell apart, as (left, right) pairs of
# H36M-17 indices: knees, ankles, elbows, wrists. (Hips and shoulders sit close together in many
# views; a model that has not learned limbs puts each left limb joint on its right twin.)
LIMB_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (H36M17_JOINTS.index(f"L{name}"), H36M17_JOINTS.index(f"R{name}"))
    for name in ("Knee", "Ankle", "Elbow", "Wrist")
)


def _labelled_limbs(
    pred_px: np.ndarray, truth_px: np.ndarray, pairs: tuple[tuple[int, int], ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The poses whose limb joints are all labelled and predicted: (pred, truth, joints)."""
    pred, truth = np.asarray(pred_px, np.float64), np.asarray(truth_px, np.float64)
    if pred.shape != truth.shape or pred.ndim != 3 or pred.shape[2] != 2:
        raise ValueError(f"pred {pred.shape}, truth {truth.shape}: expected (N, J, 2) twice")
    joints = np.array([j for pair in pairs for j in pair])
    ok = np.isfinite(pred[:, joints]).all(axis=(1, 2)) & np.isfinite(truth[:, joints]).all(
        axis=(1, 2)
    )
    return pred[ok], truth[ok], joints


def left_right_ratio(
    pred_px: np.ndarray, truth_px: np.ndarray, pairs: tuple[tuple[int, int], ...] = LIMB_PAIRS
) -> float:
    """How far apart a model puts each left limb joint from its right twin, against the truth:
    the median over poses and `pairs` of the predicted left-right distance over the true one
    (pairs closer than 1 px in the truth left out). 1: as apart as the truth; near 0: the two on
    top of each other. NaN without a labelled pair. Shapes: (N, J, 2) twice."""
    pred, truth, _ = _labelled_limbs(pred_px, truth_px, pairs)
    left, right = (np.array(side) for side in zip(*pairs, strict=True))
    apart_true = np.linalg.norm(truth[:, left] - truth[:, right], axis=-1)
    apart_pred = np.linalg.norm(pred[:, left] - pred[:, right], axis=-1)
    keep = apart_true >= 1.0
    return float(np.median(apart_pred[keep] / apart_true[keep])) if keep.any() else float("nan")


def swap_share(
    pred_px: np.ndarray, truth_px: np.ndarray, pairs: tuple[tuple[int, int], ...] = LIMB_PAIRS
) -> float:
    """The share of poses whose limb joints lie closer to the truth with its left and right
    swapped than to the truth itself (summed over the joints of `pairs`): 0 for a model that
    tells left from right, about 0.5 for one that cannot. NaN without a labelled pose."""
    pred, truth, joints = _labelled_limbs(pred_px, truth_px, pairs)
    if not len(pred):
        return float("nan")
    swapped = truth.copy()
    for left, right in pairs:
        swapped[:, [left, right]] = truth[:, [right, left]]
    as_is = np.linalg.norm(pred[:, joints] - truth[:, joints], axis=-1).sum(axis=1)
    as_swapped = np.linalg.norm(pred[:, joints] - swapped[:, joints], axis=-1).sum(axis=1)
    return float(np.mean((as_swapped < as_is) & ~np.isclose(as_swapped, as_is)))  # ties: not


def box_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of `a` with every box of `b`. Shapes: (K, 4),
    (M, 4) -> (K, M)."""
    a = np.asarray(a_xyxy, np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def detection_ap_recall(
    boxes_xyxy_px: list[np.ndarray], scores: list[np.ndarray], truth_xyxy_px: np.ndarray,
    iou_thresh: float = 0.5,
) -> tuple[float, float]:  # fmt: skip
    """(AP, best-box recall) of one-person images at IoU `iou_thresh` (AP50 at 0.5).

    AP: the detections of all images ranked by score; one is a true positive when its IoU with
    its image's truth is >= `iou_thresh` and no higher-ranked detection has matched that truth
    yet (else a false positive); all-point interpolated AP over the precision/recall curve, with
    one positive per image. Best-box recall: the share of images whose highest-scoring detection
    has IoU >= `iou_thresh` (no detection: a miss). NaN for no images.
    Shapes: per image boxes (K, 4) and scores (K,); truth_xyxy_px (N, 4).
    """
    truth = np.asarray(truth_xyxy_px, np.float64).reshape(-1, 4)
    if len(boxes_xyxy_px) != len(truth) or len(scores) != len(truth):
        raise ValueError(f"{len(boxes_xyxy_px)} images of detections, {len(truth)} truth boxes")
    n = len(truth)
    if n == 0:
        return float("nan"), float("nan")
    all_scores, all_ious, all_images = [], [], []
    best_hits = 0
    for i, (boxes, s) in enumerate(zip(boxes_xyxy_px, scores, strict=True)):
        s = np.asarray(s, np.float64).reshape(-1)
        if len(s) == 0:
            continue
        iou = box_iou(boxes, truth[i : i + 1])[:, 0]
        best_hits += int(iou[int(np.argmax(s))] >= iou_thresh)
        all_scores.append(s)
        all_ious.append(iou)
        all_images.append(np.full(len(s), i))
    if not all_scores:
        return 0.0, 0.0
    order = np.argsort(-np.concatenate(all_scores), kind="stable")
    ious, images = np.concatenate(all_ious)[order], np.concatenate(all_images)[order]
    matched = np.zeros(n, dtype=bool)
    tp = np.zeros(len(order))
    for rank, (iou, image) in enumerate(zip(ious, images, strict=True)):
        if iou >= iou_thresh and not matched[image]:
            matched[image] = True
            tp[rank] = 1.0
    ctp = np.cumsum(tp)
    recall = ctp / n
    precision = ctp / np.arange(1, len(tp) + 1)
    # all-point interpolation: precision made non-increasing from the right
    r = np.concatenate([[0.0], recall, [recall[-1]]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1])), best_hits / n


# Where a person faces, as the cosine between the chest's normal and the way to the camera:
# (name, low, high] bins of `facing_camera`, for `swap_share_by_facing`.
FACING_BINS: tuple[tuple[str, float, float], ...] = (
    ("front", 0.5, 1.0), ("side", -0.5, 0.5), ("back", -math.inf, -0.5),
)  # fmt: skip


def facing_camera(pose3d_cam_mm: np.ndarray, root_cam_mm: np.ndarray) -> np.ndarray:
    """How much each person faces the camera: the cosine between the chest's normal (the
    shoulders' left-to-right axis crossed with the spine, pelvis to thorax) and the way from the
    thorax to the camera (along the optical axis where the root is unknown). 1: facing it;
    -1: back to it; NaN where a joint is missing. Shapes: pose3d_cam_mm (N, 17, 3) root-relative
    camera-frame mm (x right, y down, z away; H36M-17), root_cam_mm (N, 3) -> (N,)."""
    cam = np.asarray(pose3d_cam_mm, np.float64)
    root = np.asarray(root_cam_mm, np.float64)
    if cam.ndim != 3 or cam.shape[1:] != (17, 3) or root.shape != (len(cam), 3):
        raise ValueError(
            f"pose3d_cam_mm {cam.shape}, root_cam_mm {root.shape}: expected (N, 17, 3), (N, 3)"
        )
    j = H36M17_JOINTS.index
    up = cam[:, j("Thorax")] - cam[:, j("Pelvis")]
    side = cam[:, j("LShoulder")] - cam[:, j("RShoulder")]
    forward = np.cross(side, up)  # facing the camera: left shoulder on the image's right
    known = np.isfinite(root).all(axis=1, keepdims=True)
    to_camera = np.where(known, -(cam[:, j("Thorax")] + root), np.array([0.0, 0.0, -1.0]))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.einsum("ni,ni->n", forward, to_camera) / (
            np.linalg.norm(forward, axis=1) * np.linalg.norm(to_camera, axis=1)
        )


def swap_share_by_facing(
    pred_px: np.ndarray, truth_px: np.ndarray, facing: np.ndarray
) -> dict[str, float]:
    """`swap_share` of the poses in each of `FACING_BINS` (NaN for an empty bin): a model that
    reads left from right by the face alone swaps the people seen from behind.
    Shapes: (N, J, 2) twice, facing (N,) from `facing_camera`."""
    facing = np.asarray(facing, np.float64)
    if facing.shape != (len(pred_px),):
        raise ValueError(f"facing {facing.shape}: expected ({len(pred_px)},)")
    out = {}
    for name, low, high in FACING_BINS:
        keep = (facing > low) & (facing <= high)
        out[name] = swap_share(pred_px[keep], truth_px[keep]) if keep.any() else float("nan")
    return out
