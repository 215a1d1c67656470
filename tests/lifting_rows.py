"""Lifting rows of a mocap sequence seen by one camera, for tests (imported as `lifting_rows`)."""

from __future__ import annotations

import numpy as np

from pose3d.camera import Camera, project, world_to_camera
from pose3d.lifting.dataset import LiftingDataset
from pose3d.lifting.geometry import view_geometry
from pose3d.skeleton import mocap32_to_h36m17, root_relative


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
