"""Declared schemas of the Parquet artifacts and the conversions between them and numpy.

Fixed-size arrays (boxes, keypoints, poses) are stored flattened as fixed-size float32 lists, so
pandas and pyarrow read them without pose3d. A row whose whole array is unknown is null; a
reader gets NaN there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from pose3d.skeleton import H36M17_JOINTS, NUM_JOINTS

FRAMES_SCHEMA_VERSION = 1


def fixed_list(size: int) -> pa.DataType:
    return pa.list_(pa.float32(), size)


# One row per frame (and camera) of a dataset: identity, image, box, 2D and 3D where known.
FRAMES_SCHEMA = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),  # "h36m" | "challenge"
        pa.field("split", pa.string(), nullable=False),  # challenge: Train/Val/Test; h36m: ""
        pa.field("subject", pa.string(), nullable=False),  # "S1"; "" where unknown
        pa.field("action", pa.string(), nullable=False),  # "Directions 1"; "" where unknown
        pa.field("camera", pa.string(), nullable=False),  # camera id; "" where unknown
        pa.field("frame", pa.int32(), nullable=False),  # source frame index / image number
        pa.field("image_path", pa.string()),  # null where there is no image
        pa.field("image_width", pa.int32()),
        pa.field("image_height", pa.int32()),
        pa.field("box_xyxy_px", fixed_list(4)),
        pa.field("kp2d_px", fixed_list(NUM_JOINTS * 2)),  # 17 x (u, v), H36M-17 order
        pa.field("pose3d_cam_mm", fixed_list(NUM_JOINTS * 3)),  # camera frame, root-relative
        pa.field("root_cam_mm", fixed_list(3)),  # the root's camera-frame position where known
    ]
)
FRAMES_UNITS = {
    "box_xyxy_px": "pixels, (x1, y1, x2, y2)",
    "kp2d_px": "pixels, 17 x (u, v), H36M-17 order",
    "pose3d_cam_mm": "millimetres, camera frame, root (Pelvis) subtracted, 17 x (x, y, z)",
    "root_cam_mm": "millimetres, camera frame",
}


def frames_metadata(source: Mapping[str, Any], producer: Mapping[str, Any]) -> dict[str, Any]:
    """File metadata of a frames table."""
    return {
        "schema_version": FRAMES_SCHEMA_VERSION,
        "joint_names": list(H36M17_JOINTS),
        "units": FRAMES_UNITS,
        "source": dict(source),
        "producer": dict(producer),
    }


def array_to_column(values: np.ndarray | None, n_rows: int, width: int) -> pa.Array:
    """(N, ...) float array -> fixed-size float32 list column; rows that are all NaN become null.

    `values` None gives an all-null column.
    """
    if values is None:
        return pa.nulls(n_rows, type=fixed_list(width))
    flat = np.asarray(values, dtype=np.float32).reshape(n_rows, -1 if n_rows else width)
    if flat.shape[1] != width:
        raise ValueError(f"expected {width} values per row, got {flat.shape[1]}")
    missing = np.isnan(flat).all(axis=1)
    storage = pa.array(flat.reshape(-1), type=pa.float32())
    column = pa.FixedSizeListArray.from_arrays(storage, width)
    if missing.any():
        mask = pa.array(missing)
        column = pa.FixedSizeListArray.from_arrays(storage, width, mask=mask)
    return column


def column_to_array(column: pa.ChunkedArray | pa.Array, shape: Sequence[int]) -> np.ndarray:
    """Fixed-size list column -> float32 array of shape (N, *shape); null rows become NaN."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    width = int(np.prod(shape))
    out = np.full((n, width), np.nan, dtype=np.float32)
    if n:
        valid = ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
        if column.null_count == 0:
            out[:] = flat.reshape(n, width)
        else:
            # flatten() drops null slots; fill the valid rows in order
            out[valid] = flat.reshape(-1, width)
    return out.reshape((n, *shape))
