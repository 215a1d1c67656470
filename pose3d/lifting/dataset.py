"""Lifting datasets: 2D keypoints in pixels paired with root-relative 3D poses in the camera frame.

A `LiftingDataset` is a set of rows, one per (frame, camera): ``kp2d_px`` (N, 17, 2) distorted
pixel coordinates (NaN where a joint is missing, e.g. the Stacked Hourglass has no Neck),
``pose3d_cam_mm`` (N, 17, 3) in the camera frame, millimetres, root (Pelvis) at the origin, and
per-row ``subject``, ``action`` (the sequence name, e.g. ``"Directions 1"``), ``camera``,
``image_wh_px`` and ``principal_px`` (the camera's principal point, used by the left-right flip),
and optionally ``geometry`` (N, 16), the view of each row (`pose3d.lifting.geometry`), None where
no row has it.

The `lifting` stage builds them from the pipeline's tables (`pose3d.lifting.join`) and stores
them as Parquet (`pose3d.lifting.table`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from pose3d.lifting.geometry import GEOMETRY_COLUMNS


@dataclass(frozen=True)
class LiftingDataset:
    """Rows of 2D keypoints and root-relative camera-frame 3D poses.

    Shapes: kp2d_px (N, J, 2), pose3d_cam_mm (N, J, 3), subject/action/camera (N,) str,
    image_wh_px (N, 2), principal_px (N, 2), geometry (N, 16) or None; optional identity:
    frame (N,) int, image_path (N,) str ("" where the frame has no image); box_xyxy_px (N, 4) px,
    the person box the 2D came with (NaN where none; for figures only); scores (N, J), the 2D's
    per-joint confidence from its keypoint cache (>= 0, 0 where missing; None: unknown).
    """

    kp2d_px: np.ndarray
    pose3d_cam_mm: np.ndarray
    subject: np.ndarray
    action: np.ndarray
    camera: np.ndarray
    image_wh_px: np.ndarray
    principal_px: np.ndarray
    geometry: np.ndarray | None = None
    frame: np.ndarray | None = None
    image_path: np.ndarray | None = None
    box_xyxy_px: np.ndarray | None = None
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = self.kp2d_px.shape[0]
        if self.kp2d_px.ndim != 3 or self.kp2d_px.shape[2] != 2:
            raise ValueError(f"kp2d_px: expected shape (N, J, 2), got {self.kp2d_px.shape}")
        j = self.kp2d_px.shape[1]
        if self.pose3d_cam_mm.shape != (n, j, 3):
            raise ValueError(
                f"pose3d_cam_mm: expected shape {(n, j, 3)}, got {self.pose3d_cam_mm.shape}"
            )
        for name in ("subject", "action", "camera", "frame", "image_path"):
            value = getattr(self, name)
            if value is not None and value.shape != (n,):
                raise ValueError(f"{name}: expected shape ({n},), got {getattr(self, name).shape}")
        for name in ("image_wh_px", "principal_px"):
            if getattr(self, name).shape != (n, 2):
                raise ValueError(
                    f"{name}: expected shape ({n}, 2), got {getattr(self, name).shape}"
                )
        if self.box_xyxy_px is not None and self.box_xyxy_px.shape != (n, 4):
            raise ValueError(f"box_xyxy_px: expected shape ({n}, 4), got {self.box_xyxy_px.shape}")
        if self.scores is not None and self.scores.shape != (n, j):
            raise ValueError(f"scores: expected shape ({n}, {j}), got {self.scores.shape}")
        width = len(GEOMETRY_COLUMNS)
        if self.geometry is not None and self.geometry.shape != (n, width):
            raise ValueError(f"geometry: expected shape ({n}, {width}), got {self.geometry.shape}")

    def __len__(self) -> int:
        return int(self.kp2d_px.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.kp2d_px.shape[1])

    def take(self, index: np.ndarray) -> LiftingDataset:
        """Rows selected by an integer or boolean index."""
        return LiftingDataset(**{name: value[index] for name, value in self._arrays().items()})

    def _arrays(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


def concat(parts: list[LiftingDataset]) -> LiftingDataset:
    """Concatenate datasets row-wise (they must share the joint count)."""
    if not parts:
        raise ValueError("concat: no datasets given")
    joints = {p.num_joints for p in parts}
    if len(joints) != 1:
        raise ValueError(f"concat: datasets have different joint counts {sorted(joints)}")
    names = set.intersection(*(set(p._arrays()) for p in parts))  # geometry only if all have it
    return LiftingDataset(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})


def select_subjects(data: LiftingDataset, subjects: list[str] | tuple[str, ...]) -> LiftingDataset:
    """Rows of the given subjects; raises ValueError naming the subjects when none match."""
    keep = np.isin(data.subject, list(subjects))
    if not keep.any():
        found = sorted(set(data.subject.tolist()))
        raise ValueError(f"no rows for subjects {list(subjects)} (dataset has {found})")
    return data.take(keep)


def action_base(action: str) -> str:
    """Sequence name -> action class: ``'Directions 1'`` -> ``'Directions'``, ``'Photo_2'`` -> ``'Photo'``."""
    return re.sub(r"[ _]\d+$", "", action)
