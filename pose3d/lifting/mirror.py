"""Left-right mirroring of lifting rows (training flips and the flip test), camera-aware."""

from __future__ import annotations

import dataclasses

import numpy as np

from pose3d.lifting.dataset import LiftingDataset
from pose3d.lifting.geometry import mirror_geometry
from pose3d.skeleton import flip_lr


def mirror_kp2d(kp2d_px: np.ndarray, principal_px: np.ndarray) -> np.ndarray:
    """The left-right mirror of 2D keypoints: u -> 2 c_x - u about each row's principal point,
    then left and right joints swapped. Shapes: (N, J, 2), (N, 2) -> (N, J, 2) float64."""
    kp = np.array(kp2d_px, dtype=np.float64)
    kp[..., 0] = 2.0 * np.asarray(principal_px, dtype=np.float64)[:, None, 0] - kp[..., 0]
    return flip_lr(kp)


def mirror_pose3d(pose3d_cam_mm: np.ndarray) -> np.ndarray:
    """The left-right mirror of camera-frame poses: X -> -X, then left and right joints swapped
    (its own inverse). Shapes: (N, J, 3) -> (N, J, 3)."""
    pose = np.array(pose3d_cam_mm)
    pose[..., 0] = -pose[..., 0]
    return flip_lr(pose)


def flip_lr_dataset(data: LiftingDataset) -> LiftingDataset:
    """Mirror every row left-right, camera-aware.

    The 2D is reflected about the vertical line through the principal point (u -> 2 c_x - u) and
    the 3D about the camera's y-z plane (X -> -X); then left and right joint labels are swapped.
    For an undistorted pinhole camera this is exactly the view of the mirrored person; the radial
    distortion is symmetric too, only the tiny tangential term is not.
    """
    return dataclasses.replace(
        data,
        kp2d_px=mirror_kp2d(data.kp2d_px, data.principal_px).astype(data.kp2d_px.dtype),
        pose3d_cam_mm=mirror_pose3d(data.pose3d_cam_mm),
        geometry=None if data.geometry is None else mirror_geometry(data.geometry),
        box_xyxy_px=None,  # for figures of the real rows only
        scores=None if data.scores is None else flip_lr(data.scores[..., None])[..., 0],
    )
