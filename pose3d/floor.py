"""The floor as a distance cue: where the ankles' viewing rays meet the floor.

A 2D pose alone does not tell a tall person far away from a short one near by; a calibrated
camera above a flat floor does. If a foot stands on the floor, the ray through its pixel meets the
floor plane at the foot's depth, and with the depth the 2D size gives the body size. The lifter's
optional floor input (``train_lifter.model.floor_input``) is, for each ankle, the inverse depth
(1/m) at which the ankle's ray reaches ``ANKLE_HEIGHT_MM`` above the floor:

    1 / Z = (r . up) / (ANKLE_HEIGHT_MM - camera height),   r = ((u - c) / f undistorted, 1)

with ``up`` the world's up direction in the camera frame and the camera height above the floor
from the row's view geometry (`pose3d.lifting.GEOMETRY_COLUMNS`). The inverse depth is finite for
every ray: a ray that never meets the floor (at or above the horizon) gives 0 or a negative value
rather than an infinite depth. A raised foot reads as farther away; the network learns how far to
trust it. NaN where the ankle or the geometry is missing.
"""

from __future__ import annotations

import numpy as np

from pose3d.lifting import GEOMETRY_COLUMNS

FLOOR_JOINTS = (3, 6)  # RAnkle, LAnkle (H36M-17)
ANKLE_HEIGHT_MM = 100.0  # an ankle joint of a foot flat on the floor: about this high
UNDISTORT_ITERATIONS = 5


def _columns(geometry: np.ndarray, *names: str) -> np.ndarray:
    return geometry[:, [GEOMETRY_COLUMNS.index(n) for n in names]]


def undistort(kp2d_px: np.ndarray, geometry: np.ndarray) -> np.ndarray:
    """Distorted pixels -> normalised image coordinates (x/z, y/z), inverting the radial and
    tangential model of `pose3d.camera.project` by fixed-point iteration (exact to well below a
    pixel for Human3.6M's lenses). Shapes: kp2d_px (N, J, 2), geometry (N, G) -> (N, J, 2)."""
    f = _columns(geometry, "fx", "fy")[:, None]
    c = _columns(geometry, "cx", "cy")[:, None]
    k = _columns(geometry, "k1", "k2", "k3")[:, None]
    p = _columns(geometry, "p1", "p2")[:, None]
    xd = (np.asarray(kp2d_px, np.float64) - c) / f
    xy = xd.copy()
    for _ in range(UNDISTORT_ITERATIONS):
        x, y = xy[..., 0], xy[..., 1]
        r2 = x * x + y * y
        radial = 1.0 + k[..., 0] * r2 + k[..., 1] * r2**2 + k[..., 2] * r2**3
        tan = p[..., 0] * y + p[..., 1] * x
        xy = np.stack(
            [
                (xd[..., 0] - p[..., 1] * r2) / (radial + tan),
                (xd[..., 1] - p[..., 0] * r2) / (radial + tan),
            ],
            axis=-1,
        )
    return xy


def floor_inverse_depth(kp2d_px: np.ndarray, geometry: np.ndarray) -> np.ndarray:
    """Per `FLOOR_JOINTS` ankle, the inverse depth (1/m) where its ray meets the floor (see the
    module docstring). Shapes: kp2d_px (N, J, 2) px, geometry (N, G) -> (N, len(FLOOR_JOINTS))."""
    geometry = np.asarray(geometry, np.float64)
    if geometry.ndim != 2 or geometry.shape[1] != len(GEOMETRY_COLUMNS):
        raise ValueError(
            f"geometry: expected shape (N, {len(GEOMETRY_COLUMNS)}), got {geometry.shape}"
        )
    if len(kp2d_px) != len(geometry):
        raise ValueError(f"kp2d_px has {len(kp2d_px)} rows, geometry {len(geometry)}")
    xy = undistort(np.asarray(kp2d_px)[:, list(FLOOR_JOINTS)], geometry)
    up = _columns(geometry, "up_x", "up_y", "up_z")[:, None]
    height = _columns(geometry, "cam_height_mm")
    along_up = xy[..., 0] * up[..., 0] + xy[..., 1] * up[..., 1] + up[..., 2]
    return 1000.0 * along_up / (ANKLE_HEIGHT_MM - height)
