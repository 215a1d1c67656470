"""The `import_keypoints` stage: fill the 2D keypoint cache (`pose3d.keypoints`) from outside
sources, one ``<source>.parquet`` per source.

- ``gt``: the ground-truth projections of the extract stage's frames tables
  (``<paths.extract>/h36m.parquet`` and ``challenge.parquet``; rows without 2D are skipped).
- ``stacked_hourglass``: ``<root>/S*/StackedHourglass/<Action>.<camera>.h5`` detections.
- ``npz``: a VideoPose3D-style ``positions_2d`` archive (unpickled: a file the user trusts).

Actions are stored in the extract stage's spelling (`pose3d.formats.h36m.canonical_action`:
"Directions 1", "Photo", "WalkDog 1"), so every source joins the frames tables.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import pose3d.formats.npz2d as npz2d
import pose3d.formats.stacked_hourglass as sh
import pose3d.keypoints as kps
from pose3d.camera import Camera
from pose3d.config import SOURCES, ConfigError, ImportKeypointsConfig
from pose3d.formats.h36m import REAL_IMAGE_SIZES, canonical_action, read_cameras
from pose3d.frames import read_frames
from pose3d.io import atomic_dir, write_json_atomic
from pose3d.schema import column_to_array
from pose3d.skeleton import NUM_JOINTS
from tasks._prefect import logger, progress, stage_task
from tasks.provenance import producer

GT_TABLES: tuple[str, ...] = ("h36m.parquet", "challenge.parquet")


@dataclass(frozen=True)
class KeypointRoots:
    """Where the sources are: the `extract` folder (gt) and the Human3.6M tree (Stacked
    Hourglass, unless ``import_keypoints.stacked_hourglass_root`` says otherwise)."""

    extract: str
    h36m: str


@dataclass(frozen=True)
class ImportSummary:
    """What one source produced."""

    source: str
    path: str
    rows: int
    sequences: int  # distinct (dataset, split, subject, action, camera)
    skipped_rows: int  # input rows left out (gt: frames without 2D)
    missing_joints: int  # joints stored as NaN with score 0


def _producer(source: str, params: dict[str, Any]) -> kps.Producer:
    made_by = producer("import_keypoints", __name__, {"source": source, **params})
    return kps.Producer(
        name="import_keypoints", code_sha256=made_by["code_sha256"], params=made_by["params"]
    )


def _write(table: pa.Table, out_path: Path, producer: kps.Producer, skipped: int) -> ImportSummary:
    source = producer.params["source"]
    if table.num_rows == 0:
        raise ValueError(f"{source}: no keypoints found ({producer.params}); nothing written")
    kps.write_keypoints(table, out_path, producer)
    seq = table.select(["dataset", "split", "subject", "action", "camera"])
    scores = column_to_array(table.column("scores"), (NUM_JOINTS,))
    kp = column_to_array(table.column("kp2d_px"), (NUM_JOINTS, 2))
    summary = ImportSummary(
        source=source,
        path=str(out_path),
        rows=table.num_rows,
        sequences=seq.group_by(seq.column_names).aggregate([]).num_rows,
        skipped_rows=skipped,
        missing_joints=int((np.isnan(kp[..., 0]) & (scores == 0)).sum()),
    )
    logger().info("import_keypoints: %s", summary)
    return summary


def import_gt(
    extract_dir: str | os.PathLike[str], out_path: str | os.PathLike[str]
) -> ImportSummary:
    """Ground-truth 2D of the frames tables in `extract_dir` -> the cache at `out_path`."""
    tables, skipped = [], 0
    found = [Path(extract_dir) / name for name in GT_TABLES if (Path(extract_dir) / name).is_file()]
    if not found:
        raise FileNotFoundError(f"{extract_dir}: none of {list(GT_TABLES)} (run `extract` first)")
    for path in found:
        frames = read_frames(path)
        has_2d = pc.is_valid(frames.column("kp2d_px"))
        skipped += frames.num_rows - (pc.sum(has_2d.cast(pa.int64())).as_py() or 0)  # 0 rows: None
        frames = frames.filter(has_2d)
        size = [
            frames.column(c).to_numpy(zero_copy_only=False) for c in ("image_width", "image_height")
        ]
        rows = kps.KeypointRows(
            source="gt",
            **{c: frames.column(c) for c in ("dataset", "split", "subject", "action", "camera")},
            frame=frames.column("frame").to_numpy(),
            kp2d_px=column_to_array(frames.column("kp2d_px"), (NUM_JOINTS, 2)),
            box_xyxy_px=column_to_array(frames.column("box_xyxy_px"), (4,)),
            image_wh=np.stack([s.astype(np.float64) for s in size], axis=-1).reshape(-1, 2),
        )
        tables.append(kps.keypoints_table(rows))
        logger().info("import_keypoints: gt: %s: %d rows with 2D", path, frames.num_rows)
    table = pa.concat_tables(tables)
    params = {"extract_tables": [str(p) for p in found]}
    return _write(table, Path(out_path), _producer("gt", params), int(skipped))


def _cameras(root: Path) -> dict[tuple[str, str], Camera]:
    cameras_h5 = root / "cameras.h5"
    return read_cameras(cameras_h5) if cameras_h5.is_file() else {}


def import_stacked_hourglass(
    root: str | os.PathLike[str], out_path: str | os.PathLike[str], subjects: Sequence[str] = ()
) -> ImportSummary:
    """Stacked Hourglass detections under `root` (only `subjects` if given) -> the cache.

    Image sizes come from ``<root>/cameras.h5`` where it exists, else from the real Human3.6M
    camera ids; the Neck/Nose joint, which MPII lacks, is NaN with score 0.
    """
    root = Path(root)
    files = sh.list_sh_files(root, tuple(subjects))
    cameras = _cameras(root)
    tables = []
    for f in progress(files, total=len(files), desc="stacked_hourglass"):
        kp2d_px = sh.read_sh_h36m17(f.path)
        cam = cameras.get((f.subject, f.camera))
        size = (cam.width, cam.height) if cam else REAL_IMAGE_SIZES.get(f.camera, (np.nan, np.nan))
        rows = kps.KeypointRows(
            source="stacked_hourglass",
            dataset="h36m",
            split="",
            subject=f.subject,
            action=canonical_action(f.action),
            camera=f.camera,
            frame=np.arange(len(kp2d_px)),
            kp2d_px=kp2d_px,
            image_wh=np.asarray(size, dtype=np.float64),
        )
        tables.append(kps.keypoints_table(rows))
    table = pa.concat_tables(tables) if tables else kps.KEYPOINTS_SCHEMA.empty_table()
    params = {"root": str(root), "subjects": list(subjects)}
    return _write(table, Path(out_path), _producer("stacked_hourglass", params), 0)


def import_npz(
    npz_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    subjects: Sequence[str] = (),
    frame_stride: int = 1,
) -> ImportSummary:
    """A VideoPose3D-style ``positions_2d`` archive -> the cache (rows 0, n, 2n, ... as frames
    0, 1, 2, ... for `frame_stride` n). The archive is unpickled: pass only a trusted file."""
    if frame_stride < 1:
        raise ValueError(f"npz frame_stride must be >= 1, got {frame_stride}")
    sequences, meta = npz2d.read_positions_2d(npz_path, trust_pickle=True)
    tables, skipped = [], 0
    for seq in sequences:
        if subjects and seq.subject not in subjects:
            continue
        keep = np.arange(0, len(seq.kp2d_px), frame_stride)
        skipped += len(seq.kp2d_px) - len(keep)
        kp2d_px = seq.kp2d_px[keep]
        scores = None if seq.scores is None else seq.scores[keep]
        if scores is not None:
            scores = np.where(np.isnan(kp2d_px).any(axis=-1), 0.0, scores)
        rows = kps.KeypointRows(
            source="npz",
            dataset="h36m",
            split="",
            subject=seq.subject,
            action=canonical_action(seq.action),
            camera=seq.camera,
            frame=keep // frame_stride,
            kp2d_px=kp2d_px,
            scores=scores,
            image_wh=np.asarray(REAL_IMAGE_SIZES.get(seq.camera, (np.nan, np.nan)), float),
        )
        tables.append(kps.keypoints_table(rows))
    table = pa.concat_tables(tables) if tables else kps.KEYPOINTS_SCHEMA.empty_table()
    params = {
        "npz_path": str(npz_path),
        "npz_sha256": kps.files_sha256([npz_path]),
        "subjects": list(subjects),
        "frame_stride": frame_stride,
        "npz_metadata": {k: v for k, v in meta.items() if isinstance(v, (str, int, float))},
    }
    return _write(table, Path(out_path), _producer("npz", params), skipped)


def import_source(
    source: str, cfg: ImportKeypointsConfig, roots: KeypointRoots, out_dir: str | os.PathLike[str]
) -> ImportSummary:
    """Run one source with its settings; writes ``<out_dir>/<source>.parquet``."""
    out_path = Path(out_dir) / f"{source}.parquet"
    if source == "gt":
        return import_gt(roots.extract, out_path)
    if source == "stacked_hourglass":
        root = cfg.stacked_hourglass_root or roots.h36m
        return import_stacked_hourglass(root, out_path, cfg.subjects)
    if source == "npz":
        return import_npz(cfg.npz_path, out_path, cfg.subjects, cfg.npz_frame_stride)
    raise ConfigError(f"import_keypoints.sources: unknown {source!r}; expected any of {SOURCES}")


def import_keypoints(
    cfg: ImportKeypointsConfig, roots: KeypointRoots, out_dir: str | os.PathLike[str]
) -> dict[str, Any]:
    """The stage: every source of `cfg` into ``out_dir`` (built aside and swapped in whole, so
    it never keeps a source no longer listed), and ``summary.json``: rows per source and, with
    ``gt`` among the sources, every other source's pixel distance to it. Returns the summary."""
    out_dir = Path(out_dir)
    summary: dict[str, Any] = {"sources": {}, "vs_gt": {}}
    with atomic_dir(out_dir) as tmp:
        for source in cfg.sources:
            result = import_source(source, cfg, roots, tmp)
            summary["sources"][source] = {
                **asdict(result),
                "path": str(out_dir / f"{source}.parquet"),
            }
        if "gt" in cfg.sources:
            gt = kps.read_keypoints(tmp / "gt.parquet")
            for source in cfg.sources:
                if source != "gt":
                    other = kps.read_keypoints(tmp / f"{source}.parquet")
                    summary["vs_gt"][source] = compare_sources(gt, other)
        write_json_atomic(tmp / "summary.json", summary)
    return summary


def compare_sources(reference: pa.Table, other: pa.Table) -> dict[str, float | int | None]:
    """Pixel distance of `other` to `reference` over the frames both have (joined on identity).

    Joints missing in either are left out. Returns rows, joints, mean_px and median_px (None
    when no joint overlaps).
    """
    li, ri = kps.match_rows(reference, other, [*kps.IDENTITY_COLUMNS, "person"])
    a = column_to_array(reference.column("kp2d_px").take(li), (NUM_JOINTS, 2))
    b = column_to_array(other.column("kp2d_px").take(ri), (NUM_JOINTS, 2))
    dist = np.linalg.norm(a - b, axis=-1)
    dist = dist[np.isfinite(dist)]
    return {
        "rows": len(li),
        "joints": int(dist.size),
        "mean_px": float(dist.mean()) if dist.size else None,
        "median_px": float(np.median(dist)) if dist.size else None,
    }


import_gt_task = stage_task(import_gt)
import_stacked_hourglass_task = stage_task(import_stacked_hourglass)
import_npz_task = stage_task(import_npz)
import_keypoints_task = stage_task(import_keypoints)
