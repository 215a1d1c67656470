"""The view of each lifting row: where the root is, which way is up, and the camera that saw it.

`GEOMETRY_COLUMNS` name the (N, 16) geometry array of a `pose3d.lifting.dataset.LiftingDataset`:
the root's camera-frame position (mm), the world's up direction in the camera frame, the camera's
focal length, principal point, radial and tangential distortion, and the height of its centre
above the floor (mm, the world's z = 0). Used by `pose3d.lifting.augment` and
`pose3d.lifting.floor`; NaN where unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d.camera import Camera, project_with

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


def mirror_geometry(geometry: np.ndarray) -> np.ndarray:
    """The view geometry of the left-right mirrored rows (`mirror_kp2d`, `mirror_pose3d`): the
    root and the up direction mirrored, the tangential p2 negated. Shapes: (N, G) -> (N, G)."""
    mirrored = np.array(geometry, dtype=np.float64)
    for column in ("root_x", "up_x", "p2"):
        mirrored[:, GEOMETRY_COLUMNS.index(column)] *= -1.0
    return mirrored
