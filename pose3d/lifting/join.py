"""Lifting datasets from the pipeline's tables: extracted frames joined with a keypoint cache.

The frames table (``extract``) gives the root-relative camera-frame 3D and the frame identity;
the keypoint cache (``import_keypoints``, or a 2D model's inference) gives the 2D input; the
cameras that ``extract`` copied (Human3.6M only: the challenge gives none) give each row's view
geometry. Rows are
joined on the identity columns (dataset, split, subject, action, camera, frame); frames without a
3D pose (the challenge's Test split) or without keypoints are left out and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pose3d.camera import Camera
from pose3d.frames import frames_arrays
from pose3d.keypoints import IDENTITY_COLUMNS, keypoints_to_arrays, match_rows
from pose3d.lifting.dataset import LiftingDataset
from pose3d.lifting.geometry import GEOMETRY_COLUMNS, view_geometry
from pose3d.skeleton import NUM_JOINTS

DATASETS = ("challenge", "h36m")


@dataclass(frozen=True)
class Selection:
    """Which rows of a frames table: challenge splits (e.g. Train) or Human3.6M subjects."""

    dataset: str  # "challenge" | "h36m"
    groups: tuple[str, ...]  # challenge: split names; h36m: subject names
    cameras: tuple[str, ...] = ()  # empty: every camera

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset {self.dataset!r}: expected one of {DATASETS}")
        if not self.groups:
            raise ValueError(f"{self.dataset}: an empty list of splits/subjects selects nothing")


def select_frames(frames: pa.Table, sel: Selection, where: str) -> pa.Table:
    """Rows of `frames` in `sel` that have a 3D pose. Raises ValueError naming `where` if none."""
    column = "split" if sel.dataset == "challenge" else "subject"
    mask = pc.and_(
        pc.equal(frames["dataset"], sel.dataset),
        pc.is_in(frames[column], value_set=pa.array(list(sel.groups))),
    )
    if sel.cameras:
        mask = pc.and_(mask, pc.is_in(frames["camera"], value_set=pa.array(list(sel.cameras))))
    picked = frames.filter(mask)
    if picked.num_rows == 0:
        found = sorted(set(frames[column].to_pylist()))
        raise ValueError(
            f"{where}: no {sel.dataset} rows for {column} {list(sel.groups)} (found {found})"
        )
    with_pose = picked.filter(pc.is_valid(picked["pose3d_cam_mm"]))
    if with_pose.num_rows == 0:
        raise ValueError(f"{where}: the {sel.dataset} rows of {list(sel.groups)} have no 3D poses")
    return with_pose


def lifting_from_tables(
    frames: pa.Table,
    keypoints: pa.Table,
    cameras: Mapping[tuple[str, str], Camera] | None = None,
) -> tuple[LiftingDataset, int]:
    """Join frames (with 3D) and keypoints into a `LiftingDataset`; also return the number of
    frames that had no keypoints. Person 0 of each frame is used.

    A row's principal point and view geometry come from `cameras[(subject, camera)]`; without
    it the principal point is the image centre and the geometry NaN (no view augmentation).
    Shapes: -> kp2d_px (N, 17, 2), pose3d_cam_mm (N, 17, 3), geometry (N, 16).
    """
    keypoints = keypoints.filter(pc.equal(keypoints["person"], 0))
    li, ri = match_rows(frames, keypoints, IDENTITY_COLUMNS)
    fr = frames_arrays(frames.take(pa.array(li)))
    kp = keypoints_to_arrays(keypoints.take(pa.array(ri)))
    size = np.stack([fr["image_width"], fr["image_height"]], axis=-1).astype(np.float32)
    size = np.where(size > 0, size, kp.image_wh.astype(np.float32))
    if (size <= 0).any() or np.isnan(size).any():
        raise ValueError("frames and keypoints both lack the image size of some rows")
    pp = (size / 2.0).astype(np.float32)
    geometry = np.full((len(size), len(GEOMETRY_COLUMNS)), np.nan)
    subject, camera = fr["subject"].astype(str), fr["camera"].astype(str)
    for (subject_id, camera_id), cam in (cameras or {}).items():
        rows = (subject == subject_id) & (camera == camera_id)
        if rows.any():
            pp[rows] = cam.c
            geometry[rows] = view_geometry(fr["root_cam_mm"][rows], cam)
    data = LiftingDataset(
        kp2d_px=kp.kp2d_px.astype(np.float32).reshape(-1, NUM_JOINTS, 2),
        pose3d_cam_mm=fr["pose3d_cam_mm"].astype(np.float32).reshape(-1, NUM_JOINTS, 3),
        subject=fr["subject"],
        action=fr["action"],
        camera=fr["camera"],
        image_wh_px=size,
        principal_px=pp,
        geometry=geometry,
        frame=fr["frame"].astype(np.int64),
        image_path=np.array(["" if p is None else str(p) for p in fr["image_path"]], dtype=object),
        box_xyxy_px=kp.box_xyxy_px.astype(np.float32).reshape(-1, 4),
        scores=kp.scores.astype(np.float32).reshape(-1, NUM_JOINTS),
    )
    return data, frames.num_rows - len(li)
