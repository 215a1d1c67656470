"""Lifting datasets: 2D keypoints in pixels paired with root-relative 3D poses in the camera frame.

A `LiftingDataset` is a set of rows, one per (frame, camera): ``kp2d_px`` (N, 17, 2) distorted
pixel coordinates (NaN where a joint is missing, e.g. the Stacked Hourglass has no Neck),
``pose3d_cam_mm`` (N, 17, 3) in the camera frame, millimetres, root (Pelvis) at the origin, and
per-row ``subject``, ``action`` (the sequence name, e.g. ``"Directions 1"``), ``camera``,
``image_wh_px`` and ``principal_px`` (the camera's principal point, used by the left-right flip),
and optionally ``geometry`` (N, 16), the view of each row, used by `pose3d.augment` and
`pose3d.floor`: the root's camera-frame position (mm), the world's up direction in the camera
frame, the camera's focal length, principal point, radial and tangential distortion, and the
height of its centre above the floor (mm, the world's z = 0) (`GEOMETRY_COLUMNS`); NaN where
unknown, None where no row has it.

The pipeline builds them from its tables (`pose3d.lifting_tables`: extracted frames joined with
a keypoint cache); `sequence_rows` builds one from a mocap sequence and a camera.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from pose3d.camera import Camera, project, project_with, world_to_camera
from pose3d.skeleton import flip_lr, mocap32_to_h36m17, root_relative

GEOMETRY_COLUMNS = (
    "root_x", "root_y", "root_z", "up_x", "up_y", "up_z", "fx", "fy", "cx", "cy",
    "k1", "k2", "k3", "p1", "p2", "cam_height_mm",
)  # fmt: skip
WORLD_UP = np.array([0.0, 0.0, 1.0])  # Human3.6M world frame: z up


def view_geometry(root_cam_mm: np.ndarray, cam: Camera) -> np.ndarray:
    """Geometry rows (`GEOMETRY_COLUMNS`) of poses rooted at `root_cam_mm` seen by `cam`.

    Shapes: root_cam_mm (N, 3) -> (N, 16)."""
    n = len(root_cam_mm)
    fixed = np.concatenate([WORLD_UP @ cam.R, cam.f, cam.c, cam.k, cam.p, [WORLD_UP @ cam.T]])
    return np.concatenate([np.asarray(root_cam_mm, np.float64), np.tile(fixed, (n, 1))], axis=1)


@dataclass(frozen=True)
class Geometry:
    """Per-row view geometry, split out of the (N, 16) geometry array.

    Shapes: root_cam_mm (N, 3), up_cam (N, 3) unit world-up in the camera frame, f (N, 2),
    c (N, 2), k (N, 3) radial, p (N, 2) tangential, cam_height_mm (N,) above the floor.
    """

    root_cam_mm: np.ndarray
    up_cam: np.ndarray
    f: np.ndarray
    c: np.ndarray
    k: np.ndarray
    p: np.ndarray
    cam_height_mm: np.ndarray

    @classmethod
    def from_array(cls, geometry: np.ndarray) -> Geometry:
        g = np.asarray(geometry, dtype=np.float64)
        if g.ndim != 2 or g.shape[1] != len(GEOMETRY_COLUMNS):
            raise ValueError(
                f"geometry: expected shape (N, {len(GEOMETRY_COLUMNS)}), got {g.shape}"
            )

        def cols(*names: str) -> np.ndarray:
            return g[:, [GEOMETRY_COLUMNS.index(n) for n in names]]

        return cls(
            cols("root_x", "root_y", "root_z"), cols("up_x", "up_y", "up_z"), cols("fx", "fy"),
            cols("cx", "cy"), cols("k1", "k2", "k3"), cols("p1", "p2"),
            g[:, GEOMETRY_COLUMNS.index("cam_height_mm")],
        )  # fmt: skip


def project_rows(pts_cam_mm: np.ndarray, geo: Geometry) -> np.ndarray:
    """`pose3d.camera.project` with one camera per row. Shapes: (N, J, 3) -> (N, J, 2) px."""
    return project_with(pts_cam_mm, geo.f[:, None], geo.c[:, None], geo.k[:, None], geo.p[:, None])


@dataclass(frozen=True)
class LiftingDataset:
    """Rows of 2D keypoints and root-relative camera-frame 3D poses.

    Shapes: kp2d_px (N, J, 2), pose3d_cam_mm (N, J, 3), subject/action/camera (N,) str,
    image_wh_px (N, 2), principal_px (N, 2), geometry (N, 16) or None.
    """

    kp2d_px: np.ndarray
    pose3d_cam_mm: np.ndarray
    subject: np.ndarray
    action: np.ndarray
    camera: np.ndarray
    image_wh_px: np.ndarray
    principal_px: np.ndarray
    geometry: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = self.kp2d_px.shape[0]
        if self.kp2d_px.ndim != 3 or self.kp2d_px.shape[2] != 2:
            raise ValueError(f"kp2d_px: expected shape (N, J, 2), got {self.kp2d_px.shape}")
        j = self.kp2d_px.shape[1]
        if self.pose3d_cam_mm.shape != (n, j, 3):
            raise ValueError(
                f"pose3d_cam_mm: expected shape {(n, j, 3)}, got {self.pose3d_cam_mm.shape}"
            )
        for name in ("subject", "action", "camera"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name}: expected shape ({n},), got {getattr(self, name).shape}")
        for name in ("image_wh_px", "principal_px"):
            if getattr(self, name).shape != (n, 2):
                raise ValueError(
                    f"{name}: expected shape ({n}, 2), got {getattr(self, name).shape}"
                )
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


def mirror_geometry(geometry: np.ndarray) -> np.ndarray:
    """The view geometry of the left-right mirrored rows (`mirror_kp2d`, `mirror_pose3d`): the
    root and the up direction mirrored, the tangential p2 negated. Shapes: (N, G) -> (N, G)."""
    mirrored = np.array(geometry, dtype=np.float64)
    for column in ("root_x", "up_x", "p2"):
        mirrored[:, GEOMETRY_COLUMNS.index(column)] *= -1.0
    return mirrored


def flip_lr_dataset(data: LiftingDataset) -> LiftingDataset:
    """Mirror every row left-right, camera-aware.

    The 2D is reflected about the vertical line through the principal point (u -> 2 c_x - u) and
    the 3D about the camera's y-z plane (X -> -X); then left and right joint labels are swapped.
    For an undistorted pinhole camera this is exactly the view of the mirrored person; the radial
    distortion is symmetric too, only the tiny tangential term is not.
    """
    return LiftingDataset(
        kp2d_px=mirror_kp2d(data.kp2d_px, data.principal_px).astype(data.kp2d_px.dtype),
        pose3d_cam_mm=mirror_pose3d(data.pose3d_cam_mm),
        subject=data.subject,
        action=data.action,
        camera=data.camera,
        image_wh_px=data.image_wh_px,
        principal_px=data.principal_px,
        geometry=None if data.geometry is None else mirror_geometry(data.geometry),
    )


def sequence_rows(
    pose32_world_mm: np.ndarray, cam: Camera, kp2d_px: np.ndarray | None, names: tuple[str, str]
) -> LiftingDataset:
    """Rows of one sequence seen by one camera; 2D projected from the 3D when `kp2d_px` is None.

    `names` is (subject, action). Frame counts that differ (detections vs. mocap) are truncated to
    the shorter. Shapes: pose32_world_mm (N, 32, 3), kp2d_px (M, 17, 2) or None.
    """
    pose_cam_mm = world_to_camera(mocap32_to_h36m17(pose32_world_mm), cam)
    if kp2d_px is None:
        kp2d_px = project(pose_cam_mm, cam)
    n = min(len(pose_cam_mm), len(kp2d_px))
    root = pose_cam_mm[:n, 0]
    return LiftingDataset(
        kp2d_px=kp2d_px[:n],
        pose3d_cam_mm=root_relative(pose_cam_mm[:n]),
        subject=np.full(n, names[0], dtype=object),
        action=np.full(n, names[1], dtype=object),
        camera=np.full(n, cam.name, dtype=object),
        image_wh_px=np.tile([float(cam.width), float(cam.height)], (n, 1)),
        principal_px=np.tile(cam.c, (n, 1)),
        geometry=view_geometry(root, cam),
    )
