"""Frames tables (`pose3d.schema.FRAMES_SCHEMA`) from numpy arrays, and back.

A frames table has one row per image (per frame and camera for Human3.6M): identity columns,
the image, a person box, 2D keypoints and the root-relative camera-frame 3D pose with its root.
Write one with `write_frames`, read it with `read_frames` (validated) and turn it into arrays
with `frames_arrays`. Plain pandas or pyarrow read the files too.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pose3d.io import read_parquet_validated, write_parquet_atomic
from pose3d.schema import (
    FRAMES_SCHEMA,
    FRAMES_SCHEMA_VERSION,
    array_to_column,
    column_to_array,
    frames_metadata,
)
from pose3d.skeleton import NUM_JOINTS

StrColumn = str | Sequence[str] | np.ndarray
OptStrColumn = str | Sequence[str | None] | np.ndarray | None
# Array column name -> per-row shape.
ARRAY_SHAPES: dict[str, tuple[int, ...]] = {
    "box_xyxy_px": (4,),
    "kp2d_px": (NUM_JOINTS, 2),
    "pose3d_cam_mm": (NUM_JOINTS, 3),
    "root_cam_mm": (3,),
}
_STRING_COLUMNS = ("dataset", "split", "subject", "action", "camera")


def _string_column(value: OptStrColumn, n: int, name: str, nullable: bool) -> pa.Array:
    if value is None:
        if not nullable:
            raise ValueError(f"frames table: column {name!r} may not be null")
        return pa.nulls(n, type=pa.string())
    if isinstance(value, str):
        return pa.array(np.full(n, value, dtype=object), type=pa.string())
    values = np.asarray(value, dtype=object).reshape(-1)
    if values.shape[0] != n:
        raise ValueError(f"frames table: column {name!r} has {values.shape[0]} rows, expected {n}")
    column = pa.array(values, type=pa.string(), from_pandas=True)
    if not nullable and column.null_count:
        raise ValueError(f"frames table: column {name!r} may not contain nulls")
    return column


def _int_column(value: int | np.ndarray | Sequence[int] | None, n: int, name: str) -> pa.Array:
    if value is None:
        return pa.nulls(n, type=pa.int32())
    values = np.broadcast_to(np.asarray(value), (n,))
    if values.dtype.kind == "f":
        missing = ~np.isfinite(values)
        return pa.array(np.where(missing, 0, values).astype(np.int32), mask=missing)
    if values.dtype.kind not in "iu":
        raise ValueError(f"frames table: column {name!r} must be integers, got {values.dtype}")
    return pa.array(values.astype(np.int32), type=pa.int32())


def frames_table(
    *,
    dataset: StrColumn,
    split: StrColumn,
    subject: StrColumn,
    action: StrColumn,
    camera: StrColumn,
    frame: np.ndarray | Sequence[int],
    image_path: OptStrColumn = None,
    image_width: int | np.ndarray | None = None,
    image_height: int | np.ndarray | None = None,
    box_xyxy_px: np.ndarray | None = None,
    kp2d_px: np.ndarray | None = None,
    pose3d_cam_mm: np.ndarray | None = None,
    root_cam_mm: np.ndarray | None = None,
) -> pa.Table:
    """Build a FRAMES_SCHEMA table; the keywords are its columns.

    String columns take one string (repeated on every row) or one value per row; `image_path`
    entries may be None. Array columns take None (all null) or float arrays whose rows that are
    all NaN become null. Image sizes take one int, per-row ints, or floats with NaN for null.
    Shapes: frame (N,), box_xyxy_px (N, 4), kp2d_px (N, 17, 2), pose3d_cam_mm (N, 17, 3),
    root_cam_mm (N, 3).
    """
    frames = np.asarray(frame).reshape(-1)
    if frames.dtype.kind not in "iu":
        raise ValueError(f"frames table: column 'frame' must be integers, got {frames.dtype}")
    n = frames.shape[0]
    columns: dict[str, pa.Array] = {}
    for name, value in zip(_STRING_COLUMNS, (dataset, split, subject, action, camera), strict=True):
        columns[name] = _string_column(value, n, name, nullable=False)
    columns["frame"] = pa.array(frames.astype(np.int32), type=pa.int32())
    columns["image_path"] = _string_column(image_path, n, "image_path", nullable=True)
    columns["image_width"] = _int_column(image_width, n, "image_width")
    columns["image_height"] = _int_column(image_height, n, "image_height")
    arrays = {
        "box_xyxy_px": box_xyxy_px,
        "kp2d_px": kp2d_px,
        "pose3d_cam_mm": pose3d_cam_mm,
        "root_cam_mm": root_cam_mm,
    }
    for name, values in arrays.items():
        width = int(np.prod(ARRAY_SHAPES[name]))
        if values is not None and np.asarray(values).size != n * width:
            raise ValueError(
                f"frames table: {name} has shape {np.shape(values)}, "
                f"expected ({n}, {', '.join(map(str, ARRAY_SHAPES[name]))})"
            )
        columns[name] = array_to_column(values, n, width)
    return pa.Table.from_arrays(list(columns.values()), schema=FRAMES_SCHEMA)


def empty_frames() -> pa.Table:
    """A frames table with no rows."""
    return FRAMES_SCHEMA.empty_table()


def concat_frames(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenate frames tables (an empty sequence gives an empty table)."""
    if not tables:
        return empty_frames()
    return pa.concat_tables([t.select(FRAMES_SCHEMA.names).cast(FRAMES_SCHEMA) for t in tables])


def write_frames(
    table: pa.Table,
    path: str | os.PathLike[str],
    source: Mapping[str, Any],
    producer: Mapping[str, Any],
) -> None:
    """Write a frames table atomically with `frames_metadata(source, producer)`."""
    table = table.select(FRAMES_SCHEMA.names).cast(FRAMES_SCHEMA)
    write_parquet_atomic(table, path, frames_metadata(source, producer))


def read_frames(path: str | os.PathLike[str]) -> pa.Table:
    """Read and validate a frames table (columns, types, schema version)."""
    return read_parquet_validated(Path(path), FRAMES_SCHEMA, FRAMES_SCHEMA_VERSION)


def frames_arrays(table: pa.Table) -> dict[str, np.ndarray]:
    """Columns of a frames table as numpy arrays.

    String columns become object arrays (`image_path` None where null), `frame` int64, image
    sizes int64 with -1 where null, array columns float32 with NaN where null.
    Shapes: frame (N,), box_xyxy_px (N, 4), kp2d_px (N, 17, 2), pose3d_cam_mm (N, 17, 3),
    root_cam_mm (N, 3).
    """
    out: dict[str, np.ndarray] = {}
    for name in (*_STRING_COLUMNS, "image_path"):
        out[name] = np.asarray(table.column(name).to_pylist(), dtype=object)
    out["frame"] = table.column("frame").to_numpy().astype(np.int64)
    for name in ("image_width", "image_height"):
        out[name] = table.column(name).fill_null(-1).to_numpy().astype(np.int64)
    for name, shape in ARRAY_SHAPES.items():
        out[name] = column_to_array(table.column(name), shape)
    return out


def boxes_from_keypoints(
    kp2d_px: np.ndarray, margin: float, width: int | None = None, height: int | None = None
) -> np.ndarray:
    """Person boxes around 2D keypoints, grown by `margin` x the extent on each side.

    NaN keypoints are ignored; a row with none gives a NaN box. With `width` and `height` the
    box is clipped to the image ``[0, width] x [0, height]``.
    Shapes: kp2d_px (N, J, 2) -> (N, 4) as (x1, y1, x2, y2).
    """
    if margin < 0:
        raise ValueError(f"box margin must be >= 0, got {margin}")
    kp = np.asarray(kp2d_px, dtype=np.float64)
    with warnings.catch_warnings():  # all-NaN rows are expected: they give NaN boxes
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanmin(kp, axis=-2)
        hi = np.nanmax(kp, axis=-2)
    pad = (hi - lo) * margin
    box = np.concatenate([lo - pad, hi + pad], axis=-1)
    if width is not None and height is not None:
        box[..., 0::2] = np.clip(box[..., 0::2], 0.0, float(width))
        box[..., 1::2] = np.clip(box[..., 1::2], 0.0, float(height))
    return box


def stored_path(path: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> str:
    """How an image path is stored in a frames table.

    Relative to `base` (default: the working directory, i.e. the project root when a stage
    runs) when the file lies inside it, else absolute; always with ``/`` separators. Symbolic
    links are not resolved.
    """
    absolute = Path(os.path.abspath(path))
    base_dir = Path(os.path.abspath(base if base is not None else os.getcwd()))
    try:
        return absolute.relative_to(base_dir).as_posix()
    except ValueError:
        return absolute.as_posix()


HELD_OUT_CHALLENGE_SPLITS = ("Val", "Test")  # the splits a 2D model is scored on, never trained on


def check_unseen_subjects(
    challenge_table: str | os.PathLike[str], trained_on: Sequence[str], section: str
) -> None:
    """Refuse 2D training subjects that appear in the challenge's Val or Test split (their
    labels name the subject); a missing challenge table checks nothing."""
    path = Path(challenge_table)
    if not path.is_file():
        return
    arrays = frames_arrays(read_frames(path))
    held = np.isin(arrays["split"].astype(str), HELD_OUT_CHALLENGE_SPLITS)
    seen = sorted({str(s) for s in arrays["subject"][held]} & set(trained_on))
    if seen:
        raise ValueError(
            f"{section}.subjects: {seen} appear in the challenge's Val/Test images ({path}); "
            "no 2D model may train on them"
        )
