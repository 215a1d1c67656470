"""The `lifting` stage's Parquet files: one `LiftingDataset` per file (``train``, ``test``).

One row per frame and camera, the lifter's whole input and target: the identity columns of the
frames table, the 2D keypoints of the chosen cache, the root-relative camera-frame 3D, the image
size, the principal point used by the left-right flip, and the view geometry
(`pose3d.lifting.geometry.GEOMETRY_COLUMNS`; null where the dataset gives no camera). File
metadata (``pose3d.*``): schema version, joint names, units, the `source` (frames table,
keypoint cache, cameras) and the `producer`. Readable with pandas or pyarrow alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from pose3d.io import read_parquet_metadata, read_parquet_validated, write_parquet_atomic
from pose3d.keypoints import scores_from_nan
from pose3d.lifting.dataset import LiftingDataset
from pose3d.lifting.geometry import GEOMETRY_COLUMNS
from pose3d.schema import column_to_array, fixed_list
from pose3d.skeleton import H36M17_JOINTS, NUM_JOINTS

LIFTING_SCHEMA_VERSION = 3  # 2: box_xyxy_px; 3: scores
LIFTING_SCHEMA = pa.schema(
    [
        pa.field("subject", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("camera", pa.string(), nullable=False),
        pa.field("frame", pa.int64(), nullable=False),
        pa.field("image_path", pa.string(), nullable=False),  # "" where the frame has no image
        pa.field("kp2d_px", fixed_list(NUM_JOINTS * 2)),  # NaN joints stay NaN inside the list
        pa.field("pose3d_cam_mm", fixed_list(NUM_JOINTS * 3)),
        pa.field("image_wh_px", fixed_list(2)),
        pa.field("principal_px", fixed_list(2)),
        pa.field("geometry", pa.list_(pa.float64(), len(GEOMETRY_COLUMNS))),  # null: unknown
        pa.field("box_xyxy_px", fixed_list(4)),  # the 2D's person box, NaN where none
        pa.field("scores", fixed_list(NUM_JOINTS)),  # the 2D's per-joint confidence
    ]
)
NOT_NULL = ("kp2d_px", "pose3d_cam_mm", "image_wh_px", "principal_px", "box_xyxy_px", "scores")
LIFTING_UNITS = {
    "kp2d_px": "pixels, 17 x (u, v), H36M-17 order, lens distortion included",
    "pose3d_cam_mm": "millimetres, camera frame, root (Pelvis) subtracted, 17 x (x, y, z)",
    "image_wh_px": "pixels, (width, height)",
    "principal_px": "pixels, the camera's principal point (the image centre where unknown)",
    "box_xyxy_px": "pixels, (x0, y0, x1, y1) of the person box the 2D came with (NaN: none)",
    "scores": "per-joint confidence of the 2D, from its keypoint cache (>= 0; 0 = missing)",
    "geometry": "columns " + ", ".join(GEOMETRY_COLUMNS) + " (mm, unit vector, px, -, mm)",
}


def _flat(values: np.ndarray, n: int, width: int) -> pa.Array:
    """A float32 fixed-size list column that keeps NaN entries as they are."""
    flat = np.asarray(values, dtype=np.float32).reshape(n, width)
    storage = pa.array(flat.reshape(-1), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(storage, width)


def _geometry_column(geometry: np.ndarray | None, n: int) -> pa.Array:
    """The float64 geometry column (exact, as the lifter computes it); rows all NaN are null."""
    width = len(GEOMETRY_COLUMNS)
    flat = np.full((n, width), np.nan) if geometry is None else np.asarray(geometry, np.float64)
    missing = np.isnan(flat).all(axis=1)
    storage = pa.array(flat.reshape(-1), type=pa.float64())
    mask = pa.array(missing) if missing.any() else None
    return pa.FixedSizeListArray.from_arrays(storage, width, mask=mask)


def _geometry_array(column: pa.ChunkedArray) -> np.ndarray:
    chunk = column.combine_chunks()
    out = np.full((len(chunk), len(GEOMETRY_COLUMNS)), np.nan)
    valid = ~np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if valid.any():
        out[valid] = chunk.flatten().to_numpy(zero_copy_only=False).reshape(-1, out.shape[1])
    return out


def lifting_table(data: LiftingDataset) -> pa.Table:
    """A `LiftingDataset` as a table of `LIFTING_SCHEMA`."""
    n = len(data)
    if data.num_joints != NUM_JOINTS:
        raise ValueError(f"lifting table: expected {NUM_JOINTS} joints, got {data.num_joints}")
    frame = data.frame if data.frame is not None else np.full(n, -1)
    image = data.image_path if data.image_path is not None else np.full(n, "", dtype=object)
    columns = {
        "subject": pa.array([str(v) for v in data.subject], pa.string()),
        "action": pa.array([str(v) for v in data.action], pa.string()),
        "camera": pa.array([str(v) for v in data.camera], pa.string()),
        "frame": pa.array(np.asarray(frame, np.int64), pa.int64()),
        "image_path": pa.array([str(v) for v in image], pa.string()),
        "kp2d_px": _flat(data.kp2d_px, n, NUM_JOINTS * 2),
        "pose3d_cam_mm": _flat(data.pose3d_cam_mm, n, NUM_JOINTS * 3),
        "image_wh_px": _flat(data.image_wh_px, n, 2),
        "principal_px": _flat(data.principal_px, n, 2),
        "geometry": _geometry_column(data.geometry, n),
        "box_xyxy_px": _flat(
            np.full((n, 4), np.nan) if data.box_xyxy_px is None else data.box_xyxy_px, n, 4
        ),
        "scores": _flat(
            scores_from_nan(data.kp2d_px) if data.scores is None else data.scores, n, NUM_JOINTS
        ),
    }
    return pa.table(columns, schema=LIFTING_SCHEMA)


def write_lifting(
    data: LiftingDataset,
    path: str | os.PathLike[str],
    source: Mapping[str, Any],
    producer: Mapping[str, Any],
) -> None:
    """Write `data` atomically with its file metadata."""
    meta = {
        "schema_version": LIFTING_SCHEMA_VERSION,
        "joint_names": list(H36M17_JOINTS),
        "units": LIFTING_UNITS,
        "source": dict(source),
        "producer": dict(producer),
    }
    write_parquet_atomic(lifting_table(data), path, meta)


def read_lifting(path: str | os.PathLike[str]) -> LiftingDataset:
    """Read and validate a lifting file. Raises ValueError naming the file and the column."""
    table = read_parquet_validated(path, LIFTING_SCHEMA, LIFTING_SCHEMA_VERSION)
    if read_parquet_metadata(path).get("joint_names") != list(H36M17_JOINTS):
        raise ValueError(f"{path}: joint_names is not the 17 H36M joints")
    n = table.num_rows
    for name in NOT_NULL:
        if table.column(name).null_count:
            raise ValueError(f"{path}: column {name!r} has null rows")

    def strings(name: str) -> np.ndarray:
        return np.array(table.column(name).to_pylist(), dtype=object).reshape(n)

    return LiftingDataset(
        kp2d_px=column_to_array(table.column("kp2d_px"), (NUM_JOINTS, 2)),
        pose3d_cam_mm=column_to_array(table.column("pose3d_cam_mm"), (NUM_JOINTS, 3)),
        subject=strings("subject"),
        action=strings("action"),
        camera=strings("camera"),
        image_wh_px=column_to_array(table.column("image_wh_px"), (2,)),
        principal_px=column_to_array(table.column("principal_px"), (2,)),
        geometry=_geometry_array(table.column("geometry")),
        frame=table.column("frame").to_numpy().astype(np.int64),
        image_path=strings("image_path"),
        box_xyxy_px=column_to_array(table.column("box_xyxy_px"), (4,)),
        scores=column_to_array(table.column("scores"), (NUM_JOINTS,)),
    )
