"""The keypoint cache's Parquet schema and the rules every keypoint table obeys.

The columns, their meaning and the rules are documented in pose3d.keypoints (the cache's
public module, which imports the schema and the check from here); here they are declared and
checked:
`validate_keypoints` raises ValueError naming the file (`where`), the column and the first bad
row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pose3d.schema import FRAMES_SCHEMA, column_to_array, fixed_list
from pose3d.skeleton import H36M17_JOINTS, NUM_JOINTS

KEYPOINTS_SCHEMA_VERSION = 1
IDENTITY_COLUMNS: tuple[str, ...] = ("dataset", "split", "subject", "action", "camera", "frame")
KEY_COLUMNS: tuple[str, ...] = (*IDENTITY_COLUMNS, "person", "source")

KEYPOINTS_SCHEMA = pa.schema(
    [
        *(FRAMES_SCHEMA.field(name) for name in IDENTITY_COLUMNS),
        pa.field("person", pa.int32(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("image_width", pa.int32()),
        pa.field("image_height", pa.int32()),
        pa.field("box_xyxy_px", fixed_list(4)),
        pa.field("kp2d_px", fixed_list(NUM_JOINTS * 2), nullable=False),
        pa.field("scores", fixed_list(NUM_JOINTS), nullable=False),
    ]
)
KEYPOINTS_UNITS = {
    "box_xyxy_px": "pixels, (x1, y1, x2, y2)",
    "kp2d_px": "pixels, 17 x (u, v), H36M-17 order; missing joint = NaN",
    "scores": "confidence per joint, >= 0; 0 = missing",
    "image_width": "pixels",
    "image_height": "pixels",
}
# Per-row values the fixed-size columns must hold, with the layout that explains it.
_WIDTHS = {
    "box_xyxy_px": (4, "x1, y1, x2, y2"),
    "kp2d_px": (NUM_JOINTS * 2, f"{NUM_JOINTS} joints x (u, v)"),
    "scores": (NUM_JOINTS, f"{NUM_JOINTS} joints"),
}


def _check_types(table: pa.Table, where: str) -> None:
    for f in KEYPOINTS_SCHEMA:
        if f.name not in table.column_names:
            raise ValueError(f"{where}: missing column {f.name!r}")
        actual = table.schema.field(f.name).type
        if f.name in _WIDTHS and pa.types.is_fixed_size_list(actual):
            width, layout = _WIDTHS[f.name]
            if actual.list_size != width:
                raise ValueError(
                    f"{where}: column {f.name!r} holds {actual.list_size} values per row, "
                    f"expected {width} ({layout})"
                )
        if actual != f.type:
            raise ValueError(f"{where}: column {f.name!r} has type {actual}, expected {f.type}")
        if not f.nullable and table.column(f.name).null_count:
            row = int(np.flatnonzero(table.column(f.name).is_null().to_numpy())[0])
            raise ValueError(f"{where}: column {f.name!r} is null in row {row}")


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.reshape(len(mask), -1).any(axis=1))[0])


def _check_values(table: pa.Table, where: str) -> None:
    kp = column_to_array(table.column("kp2d_px"), (NUM_JOINTS, 2))
    scores = column_to_array(table.column("scores"), (NUM_JOINTS,))
    nan = np.isnan(kp)
    if (nan[..., 0] != nan[..., 1]).any() or np.isinf(kp).any():
        bad = (nan[..., 0] != nan[..., 1]) | np.isinf(kp).any(axis=-1)
        raise ValueError(
            f"{where}: column 'kp2d_px' row {_first(bad)}: a joint is neither (NaN, NaN) "
            "nor two finite numbers"
        )
    if not np.isfinite(scores).all() or (scores < 0).any():
        bad = ~np.isfinite(scores) | (scores < 0)
        raise ValueError(f"{where}: column 'scores' row {_first(bad)}: scores must be >= 0")
    nonzero_missing = nan[..., 0] & (scores != 0)
    if nonzero_missing.any():
        row = _first(nonzero_missing)
        joint = int(np.flatnonzero(nonzero_missing[row])[0])
        raise ValueError(
            f"{where}: column 'scores' row {row}: joint {joint} ({H36M17_JOINTS[joint]}) is "
            "NaN in kp2d_px but has a nonzero score (missing joints have score 0)"
        )
    box = column_to_array(table.column("box_xyxy_px"), (4,))
    has_box = ~table.column("box_xyxy_px").is_null().to_numpy(zero_copy_only=False)
    bad_box = has_box & ~np.isfinite(box).all(axis=1)
    if bad_box.any():
        raise ValueError(
            f"{where}: column 'box_xyxy_px' row {_first(bad_box)}: a box is null or four "
            "finite numbers"
        )
    for name in ("image_width", "image_height"):
        size = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        if (size <= 0).any():
            raise ValueError(f"{where}: column {name!r} row {_first(size <= 0)}: must be > 0")


def _check_unique(table: pa.Table, where: str) -> None:
    if table.num_rows == 0:
        return
    counts = table.group_by(list(KEY_COLUMNS)).aggregate([([], "count_all")])
    dup = counts.filter(pc.greater(counts.column("count_all"), 1))
    if dup.num_rows:
        key = {k: dup.column(k)[0].as_py() for k in KEY_COLUMNS}
        raise ValueError(f"{where}: {dup.num_rows} duplicated row key(s), first {key}")


def validate_keypoints(table: pa.Table, where: str) -> None:
    """Check columns, types and the rules of the module docstring; ValueError names `where`."""
    _check_types(table, where)
    _check_values(table, where)
    _check_unique(table, where)
