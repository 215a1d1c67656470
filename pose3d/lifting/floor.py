"""The floor as a distance cue: where the ankles' viewing rays meet the floor.

A 2D pose alone does not tell a tall person far away from a short one near by; a calibrated
camera above a flat floor does. If a foot stands on the floor, the ray through its pixel meets the
floor plane at the foot's depth, and with the depth the 2D size gives the body size. The lifter's
optional floor input (``train_lifter.model.floor_input``) is, for each ankle, the inverse depth
(1/m) at which the ankle's ray reaches ``ANKLE_HEIGHT_MM`` above the floor:

    1 / Z = (r . up) / (ANKLE_HEIGHT_MM - camera height),   r = ((u - c) / f undistorted, 1)

with ``up`` the world's up direction in the camera frame and the camera height above the floor
from the row's view geometry (`pose3d.lifting.geometry.GEOMETRY_COLUMNS`). The inverse depth is finite for
every ray: a ray that never meets the floor (at or above the horizon) gives 0 or a negative value
rather than an infinite depth. A raised foot reads as farther away; the network learns how far to
trust it. NaN where the ankle or the geometry is missing.
"""

from __future__ import annotations

import numpy as np

from pose3d.lifting.geometry import Geometry, project_rows

FLOOR_JOINTS = (3, 6)  # RAnkle, LAnkle (H36M-17)
ANKLE_HEIGHT_MM = 100.0  # an ankle joint of a foot flat on the floor: about this high
UNDISTORT_ITERATIONS = 20


def undistort(kp2d_px: np.ndarray, geo: Geometry) -> np.ndarray:
    """Distorted pixels -> normalised image coordinates (x/z, y/z): the inverse of
    `pose3d.lifting.geometry.project_rows` (Human3.6M's radial and tangential model), found by iterating
    ``xy += (kp - project(xy, 1)) / f`` from the undistorted guess (to well below 1e-6 for
    Human3.6M's lenses). Shapes: kp2d_px (N, J, 2), geo of N rows -> (N, J, 2)."""
    kp = np.asarray(kp2d_px, np.float64)
    f, c = geo.f[:, None], geo.c[:, None]
    xy = (kp - c) / f
    for _ in range(UNDISTORT_ITERATIONS):
        rays = np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], axis=-1)
        xy = xy + (kp - project_rows(rays, geo)) / f
    return xy


def floor_inverse_depth(kp2d_px: np.ndarray, geometry: np.ndarray) -> np.ndarray:
    """Per `FLOOR_JOINTS` ankle, the inverse depth (1/m) where its ray meets the floor (see the
    module docstring). Shapes: kp2d_px (N, J, 2) px, geometry (N, G) -> (N, len(FLOOR_JOINTS))."""
    geo = Geometry.from_array(geometry)
    if len(kp2d_px) != len(geometry):
        raise ValueError(f"kp2d_px has {len(kp2d_px)} rows, geometry {len(geometry)}")
    xy = undistort(np.asarray(kp2d_px)[:, list(FLOOR_JOINTS)], geo)
    up = geo.up_cam[:, None]
    along_up = xy[..., 0] * up[..., 0] + xy[..., 1] * up[..., 1] + up[..., 2]
    return 1000.0 * along_up / (ANKLE_HEIGHT_MM - geo.cam_height_mm[:, None])
