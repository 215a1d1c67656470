"""The 2D keypoint cache: one Parquet schema for every source of 2D keypoints.

Ground-truth projections, Stacked Hourglass detections, VideoPose3D-style ``positions_2d``
files and our own detector + 2D model all land in the same table, one row per frame and
person:

=============  ==============================  ========  =========================================
column         Parquet type                    nulls     meaning
=============  ==============================  ========  =========================================
dataset        string                          no        "h36m" | "challenge"
split          string                          no        challenge: Train/Val/Test; h36m: ""
subject        string                          no        "S1"; "" where unknown
action         string                          no        "Directions 1"; "" where unknown
camera         string                          no        camera id, "54138969"; "" where unknown
frame          int32                           no        frame index, as in the frames table
person         int32                           no        person within the frame, 0-based
source         string                          no        "gt", "stacked_hourglass", "npz", or
                                                         detector + 2D model, e.g. "ssd+cpn"
image_width    int32                           yes       pixels
image_height   int32                           yes       pixels
box_xyxy_px    fixed_size_list<float32>[4]     yes       person box (x1, y1, x2, y2), pixels
kp2d_px        fixed_size_list<float32>[34]    no        17 x (u, v) pixels, H36M-17 order,
                                                         joint-major: u0, v0, u1, v1, ...
scores         fixed_size_list<float32>[17]    no        confidence per joint, 0 = missing
=============  ==============================  ========  =========================================

The first six columns have the names and types of `pose3d.schema.FRAMES_SCHEMA`, so keypoints
join the frames table on them (with `match_rows`: pyarrow's join cannot carry list columns).
The action is spelled as in the frames table (3d-pose-baseline: "Photo", "WalkDog 1"). Rules,
checked on write and again on read by `pose3d.keypoints_schema.validate_keypoints` (a violation
raises ValueError naming the file, the column and the first bad row):

- a missing joint is (NaN, NaN) with score 0; a joint's u and v are both NaN or both finite;
  scores are finite and >= 0 (a present joint may have score 0);
- (dataset, split, subject, action, camera, frame, person, source) is unique;
- a box is null or four finite numbers; image sizes are null or positive;
- an empty table is a valid cache (arrays of shape (0, 17, 2)); the import stage refuses to
  write one (an empty source is reported as an error naming where it looked).

File metadata (JSON under ``pose3d.<key>``): ``schema_version`` (1), ``joint_names`` (the 17
H36M names), ``units``, ``sources`` (the distinct values of `source`), ``image_sizes``
({camera: [[width, height], ...]}) and ``producer`` ({name, code_sha256, model_sha256: {model:
sha256}, params}).

Without pose3d::

    df = pandas.read_parquet(path)   # kp2d_px cells are arrays of 34 floats
    kp2d_px = numpy.stack(df.kp2d_px.to_numpy()).reshape(-1, 17, 2)
    col = pyarrow.parquet.read_table(path).column("kp2d_px").combine_chunks()
    kp2d_px = col.flatten().to_numpy().reshape(-1, 17, 2)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pose3d.io import read_parquet_metadata, write_parquet_atomic
from pose3d.keypoints_schema import (
    IDENTITY_COLUMNS,
    KEYPOINTS_SCHEMA,
    KEYPOINTS_SCHEMA_VERSION,
    KEYPOINTS_UNITS,
    validate_keypoints,
)
from pose3d.schema import array_to_column, column_to_array
from pose3d.skeleton import H36M17_JOINTS, NUM_JOINTS

StrColumn: TypeAlias = str | Sequence[str] | np.ndarray | pa.Array | pa.ChunkedArray


@dataclass(frozen=True)
class Producer:
    """Who made the keypoints: the code, the models (weights hashes) and the params."""

    name: str  # e.g. "import_keypoints"
    code_sha256: str
    model_sha256: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KeypointRows:
    """Column values of a keypoint table; a plain str is repeated on every row.

    Shapes: frame (N,); kp2d_px (N, 17, 2) px, NaN = missing; scores (N, 17) or None (1 where
    present, 0 where NaN); box_xyxy_px (N, 4) px or None (NaN rows = no box); image_wh (N, 2)
    or (2,) px or None (NaN = unknown); person (N,) or None (all 0).
    """

    source: StrColumn
    dataset: StrColumn
    split: StrColumn
    subject: StrColumn
    action: StrColumn
    camera: StrColumn
    frame: np.ndarray
    kp2d_px: np.ndarray
    scores: np.ndarray | None = None
    box_xyxy_px: np.ndarray | None = None
    image_wh: np.ndarray | tuple[int, int] | None = None
    person: np.ndarray | None = None


@dataclass(frozen=True)
class KeypointArrays:
    """A keypoint table as arrays.

    Shapes: frame (N,) int64, person (N,) int64, kp2d_px (N, 17, 2) float32 px, scores (N, 17)
    float32, box_xyxy_px (N, 4) float32 px (NaN = no box), image_wh (N, 2) float64 (NaN =
    unknown).
    """

    frame: np.ndarray
    person: np.ndarray
    kp2d_px: np.ndarray
    scores: np.ndarray
    box_xyxy_px: np.ndarray
    image_wh: np.ndarray


def scores_from_nan(kp2d_px: np.ndarray) -> np.ndarray:
    """Score 1 for present joints, 0 for missing (NaN) ones. Shapes: (N, 17, 2) -> (N, 17)."""
    return np.isfinite(kp2d_px).all(axis=-1).astype(np.float32)


def _str_column(value: StrColumn, n: int, name: str) -> pa.Array:
    if isinstance(value, str):
        return pa.array([value] * n, type=pa.string())
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    column = (
        value.cast(pa.string()) if isinstance(value, pa.Array) else pa.array(value, pa.string())
    )
    if len(column) != n:
        raise ValueError(f"column {name!r}: {len(column)} values for {n} rows")
    return column


def _int_column(values: np.ndarray, n: int, name: str) -> pa.Array:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size != n:
        raise ValueError(f"column {name!r}: {values.size} values for {n} rows")
    known = np.isfinite(values)
    return pa.array(np.where(known, values, 0).astype(np.int32), mask=~known)


def keypoints_table(rows: KeypointRows) -> pa.Table:
    """Build and validate a table of `KEYPOINTS_SCHEMA` from arrays (see `KeypointRows`)."""
    kp = np.asarray(rows.kp2d_px, dtype=np.float32)
    if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"kp2d_px: expected shape (N, {NUM_JOINTS}, 2), got {kp.shape}")
    n = kp.shape[0]
    scores = scores_from_nan(kp) if rows.scores is None else rows.scores
    scores = np.asarray(scores, dtype=np.float32)
    if scores.shape != (n, NUM_JOINTS):
        raise ValueError(f"scores: expected shape ({n}, {NUM_JOINTS}), got {scores.shape}")
    wh = np.full((n, 2), np.nan) if rows.image_wh is None else np.asarray(rows.image_wh, float)
    wh = np.broadcast_to(wh, (n, 2))
    person = np.zeros(n) if rows.person is None else rows.person
    strings = {k: getattr(rows, k) for k in ("dataset", "split", "subject", "action", "camera")}
    columns = {name: _str_column(value, n, name) for name, value in strings.items()}
    columns["frame"] = _int_column(rows.frame, n, "frame")
    columns["person"] = _int_column(person, n, "person")
    columns["source"] = _str_column(rows.source, n, "source")
    columns["image_width"] = _int_column(wh[:, 0], n, "image_width")
    columns["image_height"] = _int_column(wh[:, 1], n, "image_height")
    box = None if n == 0 else rows.box_xyxy_px  # (array_to_column cannot reshape 0 rows)
    columns["box_xyxy_px"] = array_to_column(box, n, 4)
    columns["kp2d_px"] = pa.FixedSizeListArray.from_arrays(pa.array(kp.reshape(-1)), 34)
    columns["scores"] = pa.FixedSizeListArray.from_arrays(pa.array(scores.reshape(-1)), 17)
    table = pa.table([columns[f.name] for f in KEYPOINTS_SCHEMA], schema=KEYPOINTS_SCHEMA)
    validate_keypoints(table, "keypoints table")
    return table


def image_sizes(table: pa.Table) -> dict[str, list[list[int]]]:
    """{camera: sorted distinct [width, height]} of the rows with a known size."""
    sub = table.select(["camera", "image_width", "image_height"]).drop_null()
    sizes = sub.group_by(["camera", "image_width", "image_height"]).aggregate([]).to_pylist()
    out: dict[str, list[list[int]]] = {}
    for row in sorted(sizes, key=lambda r: (r["camera"], r["image_width"], r["image_height"])):
        out.setdefault(row["camera"], []).append([row["image_width"], row["image_height"]])
    return out


def keypoints_metadata(table: pa.Table, producer: Producer) -> dict[str, Any]:
    """File metadata of a keypoint table (see the module docstring)."""
    return {
        "schema_version": KEYPOINTS_SCHEMA_VERSION,
        "joint_names": list(H36M17_JOINTS),
        "units": KEYPOINTS_UNITS,
        "sources": sorted(set(table.column("source").to_pylist())),
        "image_sizes": image_sizes(table),
        "producer": {
            "name": producer.name,
            "code_sha256": producer.code_sha256,
            "model_sha256": dict(producer.model_sha256),
            "params": dict(producer.params),
        },
    }


def write_keypoints(table: pa.Table, path: str | os.PathLike[str], producer: Producer) -> None:
    """Validate `table` and write it atomically with its file metadata."""
    validate_keypoints(table, str(path))
    table = table.select(KEYPOINTS_SCHEMA.names).cast(KEYPOINTS_SCHEMA)
    write_parquet_atomic(table, path, keypoints_metadata(table, producer))


def read_keypoints(path: str | os.PathLike[str]) -> pa.Table:
    """Read and validate a keypoint cache; columns in `KEYPOINTS_SCHEMA` order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such keypoint cache")
    try:
        meta = read_parquet_metadata(path)
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(f"{path}: not a readable Parquet file ({err})") from err
    version = meta.get("schema_version")
    if version != KEYPOINTS_SCHEMA_VERSION:
        raise ValueError(
            f"{path}: schema_version is {version!r}, expected {KEYPOINTS_SCHEMA_VERSION}"
        )
    if meta.get("joint_names") != list(H36M17_JOINTS):
        raise ValueError(
            f"{path}: joint_names is {meta.get('joint_names')!r}, expected the 17 H36M joints"
        )
    validate_keypoints(table, str(path))
    return table.select(KEYPOINTS_SCHEMA.names)


def keypoints_to_arrays(table: pa.Table) -> KeypointArrays:
    """Arrays of a (validated) keypoint table, row order kept. Shapes: see `KeypointArrays`."""
    size = [table.column(c).to_numpy(zero_copy_only=False) for c in ("image_width", "image_height")]
    return KeypointArrays(
        frame=table.column("frame").to_numpy().astype(np.int64),
        person=table.column("person").to_numpy().astype(np.int64),
        kp2d_px=column_to_array(table.column("kp2d_px"), (NUM_JOINTS, 2)),
        scores=column_to_array(table.column("scores"), (NUM_JOINTS,)),
        box_xyxy_px=column_to_array(table.column("box_xyxy_px"), (4,)),
        image_wh=np.stack([s.astype(np.float64) for s in size], axis=-1).reshape(-1, 2),
    )


def match_rows(
    left: pa.Table, right: pa.Table, keys: Sequence[str] = IDENTITY_COLUMNS
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the inner join of two tables on `keys`, sorted by left row.

    pyarrow cannot carry fixed-size list columns through a join, so join indices and `take`:
    ``left.take(li)`` and ``right.take(ri)`` line up. Shapes: -> (M,), (M,) int64.
    """
    keys = list(keys)
    lhs = left.select(keys).append_column("_left", pa.array(np.arange(left.num_rows)))
    rhs = right.select(keys).append_column("_right", pa.array(np.arange(right.num_rows)))
    joined = lhs.join(rhs, keys=keys, join_type="inner")
    li = joined.column("_left").to_numpy().astype(np.int64)
    ri = joined.column("_right").to_numpy().astype(np.int64)
    order = np.lexsort((ri, li))
    return li[order], ri[order]


def files_sha256(paths: Iterable[str | os.PathLike[str]]) -> str:
    """One sha256 over the names and bytes of `paths` (in the given order)."""
    digest = hashlib.sha256()
    for p in paths:
        digest.update(Path(p).name.encode() + b"\0" + Path(p).read_bytes() + b"\0")
    return digest.hexdigest()
