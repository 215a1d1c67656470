"""Pinhole camera with Human3.6M's radial + tangential distortion.

Conventions (those of the Human3.6M release and 3d-pose-baseline, see ../shared/data/README.md):
world to camera is ``X_cam = R^T (X_world - T)`` with ``R`` as stored in ``cameras.h5``;
millimetres in 3D, pixels in 2D.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """One calibrated camera.

    Shapes: R (3, 3), T (3,) mm, f (2,) px, c (2,) px, k (3,) radial, p (2,) tangential.
    """

    name: str
    R: np.ndarray
    T: np.ndarray
    f: np.ndarray
    c: np.ndarray
    k: np.ndarray
    p: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        shapes = {"R": (3, 3), "T": (3,), "f": (2,), "c": (2,), "k": (3,), "p": (2,)}
        for field, shape in shapes.items():
            value = np.asarray(getattr(self, field), dtype=np.float64).reshape(-1)
            if value.size != int(np.prod(shape)):
                raise ValueError(f"camera {self.name}: {field} must have shape {shape}")
            object.__setattr__(self, field, value.reshape(shape))


def world_to_camera(pts_world_mm: np.ndarray, cam: Camera) -> np.ndarray:
    """Shapes: (..., 3) world mm -> (..., 3) camera-frame mm."""
    return (pts_world_mm - cam.T) @ cam.R


def camera_to_world(pts_cam_mm: np.ndarray, cam: Camera) -> np.ndarray:
    """Inverse of `world_to_camera`. Shapes: (..., 3) -> (..., 3)."""
    return pts_cam_mm @ cam.R.T + cam.T


def project(pts_cam_mm: np.ndarray, cam: Camera) -> np.ndarray:
    """Project camera-frame points to distorted pixel coordinates.

    Uses the tangential term exactly as the Human3.6M code does (it reproduces the official 2D).
    Shapes: (..., 3) mm -> (..., 2) px.
    """
    return project_with(pts_cam_mm, cam.f, cam.c, cam.k, cam.p)


def project_with(
    pts_cam_mm: np.ndarray, f: np.ndarray, c: np.ndarray, k: np.ndarray, p: np.ndarray
) -> np.ndarray:
    """`project` with intrinsics given as arrays that broadcast against the points' leading axes,
    e.g. one camera per pose: pts (N, J, 3) with f, c (N, 1, 2), k (N, 1, 3), p (N, 1, 2).

    Shapes: (..., 3) mm -> (..., 2) px.
    """
    f, c, k, p = (np.asarray(a, dtype=np.float64) for a in (f, c, k, p))
    z = pts_cam_mm[..., 2]
    x = pts_cam_mm[..., 0] / z
    y = pts_cam_mm[..., 1] / z
    r2 = x * x + y * y
    radial = 1.0 + k[..., 0] * r2 + k[..., 1] * r2**2 + k[..., 2] * r2**3
    tan = p[..., 0] * y + p[..., 1] * x
    xd = x * (radial + tan) + p[..., 1] * r2
    yd = y * (radial + tan) + p[..., 0] * r2
    return np.stack([f[..., 0] * xd + c[..., 0], f[..., 1] * yd + c[..., 1]], axis=-1)


def project_world(pts_world_mm: np.ndarray, cam: Camera) -> np.ndarray:
    """World mm -> distorted pixels. Shapes: (..., 3) -> (..., 2)."""
    return project(world_to_camera(pts_world_mm, cam), cam)


def look_at(eye_mm: np.ndarray, target_mm: np.ndarray, up: np.ndarray | None = None) -> np.ndarray:
    """Rotation R (as stored in cameras.h5) of a camera at `eye_mm` looking at `target_mm`.

    Columns of R are the camera's x (right), y (down) and z (forward) axes in world coordinates,
    so that ``X_cam = R^T (X_world - T)`` with ``T = eye_mm``. Shapes: (3,), (3,) -> (3, 3).
    """
    up = np.array([0.0, 0.0, 1.0]) if up is None else np.asarray(up, dtype=np.float64)
    z = np.asarray(target_mm, dtype=np.float64) - np.asarray(eye_mm, dtype=np.float64)
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to the up vector")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)
