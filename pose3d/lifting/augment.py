"""Geometric augmentation of lifting rows: new bodies and new viewpoints seen by the real camera.

Each augmented row starts from a training row (root-relative 3D in the camera frame, its root's
camera-frame position and its camera's intrinsics, see `pose3d.lifting.geometry.GEOMETRY_COLUMNS`):
1. body: every bone of the 17-joint tree is scaled by ``exp(b + e)``, with ``b ~ N(0, body_scale)``
   for the whole body and ``e ~ N(0, bone_scale)`` per bone, the same for a left bone and its
   right twin, and the pose is rebuilt from the root outwards (directions kept, lengths
   changed): people of other sizes and proportions;
2. yaw: the pose is turned by an angle uniform in ``[-rotate_deg, rotate_deg]`` about the world's
   vertical axis through the root (the person faces elsewhere);
3. the floor: the root is moved along the world's vertical so that the lowest joint stays at its
   height (a taller person's pelvis is higher, their feet still on the floor), and the new 3D
   is projected through the row's own camera (with its distortion), so the 2D is what that
   camera would have seen. Size and distance are thus told apart as in the real studio;
4. the row's 2D error, its 2D minus the projection of its original 3D, is added to the new
   projection. For ground-truth 2D it is ~0; for detections (e.g. the Stacked Hourglass) it
   carries the detector's error pattern over to the new view. Missing joints stay missing.
   Two options make the detector's errors vary between epochs instead of staying each row's
   own (`resample_errors`): an ``error_resample`` share of the rows takes the whole 17-joint
   error of another augmented row (its swaps and outliers included, rescaled to this row's size
   in the image, so that a far person's error is not laid on a near one unchanged), and an
   ``error_clean`` share takes none (the ground-truth 2D mixed in).

Rows without geometry (NaN), or whose new pose would reach behind the camera, are left as they
were. Nothing here changes the evaluation data: it is applied to training rows only.
"""

from __future__ import annotations

import numpy as np

from pose3d.lifting.geometry import Geometry, project_rows
from pose3d.skeleton import H36M17_LR_PAIRS, H36M17_PARENTS

MIN_DEPTH_MM = 100.0


def bone_factors(
    n: int, sigma: float, rng: np.random.Generator, body_sigma: float = 0.0
) -> np.ndarray:
    """Length factor of the bone ending at each joint: a whole-body log factor ~ N(0, body_sigma)
    plus a per-bone one ~ N(0, sigma), left and right twins alike.

    Shapes: -> (n, 17); column 0 (the root, no bone) is 1.
    """
    log_f = np.zeros((n, len(H36M17_PARENTS)))
    if sigma > 0:
        log_f += rng.normal(0.0, sigma, size=log_f.shape)
        for left, right in H36M17_LR_PAIRS:
            log_f[:, left] = log_f[:, right]
    if body_sigma > 0:
        log_f += rng.normal(0.0, body_sigma, size=(n, 1))
    log_f[:, 0] = 0.0
    return np.exp(log_f)


def scale_bones(pose_rel: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Rebuild root-relative poses with every bone scaled. Shapes: (N, 17, 3), (N, 17) -> (N, 17, 3).

    Relies on parents preceding children in `H36M17_PARENTS`."""
    out = np.zeros_like(pose_rel)
    for j, parent in enumerate(H36M17_PARENTS):
        if parent < 0:
            continue
        bone = pose_rel[:, j] - pose_rel[:, parent]
        out[:, j] = out[:, parent] + factors[:, j : j + 1] * bone
    return out


def rotate_about(pose_rel: np.ndarray, axis: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    """Rotate each pose about its unit axis through the origin (Rodrigues).

    Shapes: pose_rel (N, J, 3), axis (N, 3), angle_rad (N,) -> (N, J, 3)."""
    u = axis[:, None, :]
    cos = np.cos(angle_rad)[:, None, None]
    sin = np.sin(angle_rad)[:, None, None]
    dot = np.sum(pose_rel * u, axis=-1, keepdims=True)
    return pose_rel * cos + np.cross(u, pose_rel) * sin + u * dot * (1.0 - cos)


def px_per_mm(geo: Geometry) -> np.ndarray:
    """Each row's image scale at its root: mean focal length over the root's depth. (N,)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(geo.f.mean(axis=1) / geo.root_cam_mm[:, 2], dtype=np.float64)


def resample_errors(
    error_px: np.ndarray,
    scale: np.ndarray,
    rng: np.random.Generator,
    resample: float,
    clean: float,
) -> np.ndarray:
    """Each row's 2D error, another row's, or none (see the module docstring).

    A ``resample`` share of the rows (at random) takes the error of a random other row, times
    ``scale[row] / scale[source]``; a ``clean`` share gets zero; the rest keep their own. A
    source joint that is missing (NaN) makes that joint missing. Shapes: error_px (N, J, 2),
    scale (N,) px/mm -> (N, J, 2).
    """
    if resample + clean > 1.0:
        raise ValueError(f"error_resample {resample} + error_clean {clean} > 1")
    n = len(error_px)
    out = np.array(error_px, dtype=np.float64, copy=True)
    draw = rng.random(n)
    moved = np.flatnonzero(draw < resample)
    if len(moved):
        source = rng.integers(0, n, size=len(moved))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = scale[moved] / scale[source]
        ratio = np.where(np.isfinite(ratio), ratio, 1.0)
        out[moved] = error_px[source] * ratio[:, None, None]
    gone = (draw >= resample) & (draw < resample + clean)
    out[gone] = np.where(np.isnan(out[gone]), np.nan, 0.0)  # a missing joint stays missing
    return out


def augment_rows(
    kp2d_px: np.ndarray,
    pose_rel_mm: np.ndarray,
    geometry: np.ndarray,
    rng: np.random.Generator,
    rotate_deg: float,
    bone_scale: float,
    body_scale: float = 0.0,
    error_resample: float = 0.0,
    error_clean: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New (2D, root-relative 3D) pairs, one per row (see the module docstring), and which rows
    were augmented; rows that cannot be are returned unchanged.

    Shapes: kp2d_px (N, 17, 2), pose_rel_mm (N, 17, 3), geometry (N, 16)
    -> (N, 17, 2), (N, 17, 3), (N,) bool.
    """
    n = len(pose_rel_mm)
    geo = Geometry.from_array(geometry)
    pose = np.asarray(pose_rel_mm, dtype=np.float64)
    new = scale_bones(pose, bone_factors(n, bone_scale, rng, body_scale))
    angle = np.deg2rad(rng.uniform(-rotate_deg, rotate_deg, size=n))
    new = rotate_about(new, geo.up_cam, angle)
    up = geo.up_cam[:, None, :]
    lift = np.min(np.sum(pose * up, -1), axis=1) - np.min(np.sum(new * up, -1), axis=1)
    root = geo.root_cam_mm[:, None, :]
    old_abs, new_abs = pose + root, new + root + lift[:, None, None] * up
    with np.errstate(invalid="ignore", divide="ignore"):
        error_2d = np.asarray(kp2d_px, dtype=np.float64) - project_rows(old_abs, geo)
        if error_resample > 0 or error_clean > 0:
            error_2d = resample_errors(error_2d, px_per_mm(geo), rng, error_resample, error_clean)
        kp_new = project_rows(new_abs, geo) + error_2d
    ok = np.isfinite(geometry).all(axis=1) & (new_abs[..., 2] > MIN_DEPTH_MM).all(axis=1)
    ok &= (old_abs[..., 2] > MIN_DEPTH_MM).all(axis=1)
    kp_out = np.where(ok[:, None, None], kp_new, kp2d_px)
    pose_out = np.where(ok[:, None, None], new, pose)
    return kp_out.astype(np.float32), pose_out.astype(np.float32), ok
