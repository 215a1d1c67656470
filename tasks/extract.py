"""The `extract` stage: Human3.6M and challenge layouts -> frames tables and JPEG frames.

Outputs in `out_dir` (``paths.extract``):
- ``h36m.parquet``: one row per kept pose frame and camera; ``frame`` is the index in the
  pose file. 3D from the poses (camera frame, root-relative, plus the root), 2D by projection
  with distortion, boxes around the 2D. ``h36m_images/<subject>/<Action>.<camera>/<frame>.jpg``
  where the subject has a Videos folder and ``decode_frames`` is on, else null image paths.
- ``challenge.parquet``: one row per challenge image, referenced in place (not copied).
- ``h36m_cameras.h5``: the cameras of the extracted Human3.6M subjects (the lifter's view
  geometry; no stage after this one reads the input roots; empty when the reader is off). The
  challenge gives no cameras.
- ``h36m_summary.json``, ``challenge_summary.json``: rows, images and the skipped bad inputs.
- ``h36m_images.md5``, ``challenge_images.md5``: ``<md5>  <image_path>`` for every image a table
  references (``md5sum -c`` reads them). The stages that read the images depend on these in
  dvc.yaml instead of the image folders, so a `dvc repro` with nothing to do checks one file, not
  thousands (docs/notes/two_d.md, "A run with nothing to do"); an image that changes changes them.

Image paths are stored relative to the working directory (the project root under DVC) when the
file lies inside it, else absolute (`pose3d.frames.stored_path`). A disabled reader still writes
its (empty) table. Every file is written atomically; the image folder is built beside its
target and renamed into place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from pose3d.config import ExtractConfig, to_dict
from pose3d.formats import challenge
from pose3d.formats.h36m import write_cameras
from pose3d.frames import concat_frames, stored_path, write_frames
from pose3d.images import DEFAULT_MAX_PIXELS
from pose3d.io import atomic_dir, write_json_atomic, write_text_atomic
from tasks._prefect import logger, progress, stage_task
from tasks.h36m_views import View, ViewContext, h36m_cameras, subject_views, view_table
from tasks.provenance import producer

H36M_TABLE = "h36m.parquet"
CHALLENGE_TABLE = "challenge.parquet"
H36M_IMAGES = "h36m_images"
H36M_CAMERAS = "h36m_cameras.h5"
MANIFEST_SUFFIX = "_images.md5"  # <dataset>_images.md5


@dataclass
class ExtractSummary:
    """What one reader did; written as ``<dataset>_summary.json`` (without `seconds`)."""

    dataset: str
    enabled: bool
    rows: int = 0
    images_written: int = 0
    rows_without_image: int = 0
    sequences: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("seconds")
        out["skipped_count"] = len(self.skipped)
        return out


class BadInputs:
    """`extract.on_error`: "raise" lets readers raise; "skip" records, logs and goes on."""

    def __init__(self, policy: str, summary: ExtractSummary) -> None:
        self.policy = policy
        self.summary = summary

    def skip(self, path: Path, reason: str) -> None:
        self.summary.skipped.append({"file": str(path), "reason": reason})
        logger().warning("skipped bad input: %s", reason)

    def __call__(self, path: Path, err: Exception) -> None:
        """Raise `err` under "raise", else record it."""
        if self.policy == "raise":
            raise err
        self.skip(path, str(err))


def _producer(cfg: ExtractConfig, max_pixels: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"extract": to_dict(cfg)}
    if max_pixels is not None:
        params["infer_2d"] = {"max_pixels": max_pixels}
    return producer("extract", __name__, params)


def _finish(summary: ExtractSummary, out_dir: Path, start: float) -> ExtractSummary:
    summary.seconds = time.perf_counter() - start
    write_json_atomic(out_dir / f"{summary.dataset}_summary.json", summary.to_dict())
    logger().info(
        "extract %s: %d rows, %d images written, %d rows without image, %d skipped, %.1f s",
        summary.dataset,
        summary.rows,
        summary.images_written,
        summary.rows_without_image,
        len(summary.skipped),
        summary.seconds,
    )
    return summary


def write_image_manifest(
    table: pa.Table,
    out_path: str | os.PathLike[str],
    locate: Callable[[str], Path] = Path,
    workers: int = 0,
) -> int:
    """Write ``<md5>  <image_path>`` for each distinct image path of a frames `table`, sorted by
    path, to `out_path`; `locate` maps a stored path to where the file is now (a folder not yet
    renamed into place). Returns the number of images. A missing file raises
    FileNotFoundError naming it."""
    paths = sorted({p for p in table.column("image_path").to_pylist() if p is not None})

    def md5(path: str) -> str:
        with open(locate(path), "rb") as f:
            return hashlib.file_digest(f, "md5").hexdigest()

    with ThreadPoolExecutor(workers or os.cpu_count() or 1, "extract-md5") as pool:
        digests = list(progress(pool.map(md5, paths), len(paths), f"md5 {Path(out_path).name}"))
    write_text_atomic(out_path, "".join(f"{d}  {p}\n" for d, p in zip(digests, paths, strict=True)))
    return len(paths)


def extract_h36m(
    root: str | os.PathLike[str],
    cfg: ExtractConfig,
    out_dir: str | os.PathLike[str],
    final_dir: str | os.PathLike[str] | None = None,
) -> ExtractSummary:
    """Human3.6M tree -> ``h36m.parquet`` (+ ``h36m_images/``) and ``h36m_cameras.h5`` (the
    cameras of the extracted subjects, what the lifter needs of them) in `out_dir`. Image paths
    point into `final_dir` (default `out_dir`), where the folder will live once complete.

    Raises FileNotFoundError / ValueError naming the file on bad input (unless
    ``cfg.on_error == "skip"``); an empty `cfg.h36m_subjects` writes an empty table.
    """
    start = time.perf_counter()
    root, out_dir = Path(root), Path(out_dir)
    summary = ExtractSummary("h36m", enabled=bool(cfg.h36m_subjects))
    cams = h36m_cameras(root, cfg) if summary.enabled else {}
    sources: dict[str, str | None] = {}
    final = Path(final_dir or out_dir) / H36M_IMAGES
    with atomic_dir(out_dir / H36M_IMAGES) as tmp:
        # the pool stops (running decodes finish, queued ones are cancelled) before a failed
        # build's temporary folder is removed
        pool = ThreadPoolExecutor(cfg.workers or os.cpu_count() or 1, "extract-decode")
        try:
            ctx = ViewContext(cfg, tmp, final, BadInputs(cfg.on_error, summary), pool)
            views: list[View] = []
            for subject in cfg.h36m_subjects:
                found, sources[subject] = subject_views(root, subject, cams, ctx)
                views += found
            tables = [
                view_table(view, cfg.box_margin)
                for view in progress(views, len(views), "extract h36m (sequence x camera)")
            ]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    if not any((out_dir / H36M_IMAGES).iterdir()):
        (out_dir / H36M_IMAGES).rmdir()
    subjects = set(cfg.h36m_subjects)  # written even when empty: dvc.yaml names the file
    write_cameras(out_dir / H36M_CAMERAS, {k: c for k, c in cams.items() if k[0] in subjects})
    table = concat_frames(tables)
    summary.sequences = len({(v.subject, v.action) for v in views})
    summary.rows = table.num_rows
    summary.rows_without_image = table.column("image_path").null_count
    summary.images_written = summary.rows - summary.rows_without_image
    source = {
        "root": str(root),
        "reader": "pose3d.formats.h36m",
        "enabled": summary.enabled,
        "pose_source": cfg.pose_source,
        "pose_sources": sources,
        "stride": cfg.frame_stride,
        "cameras": sorted({cam_id for _, cam_id in cams}),
        "image_paths": "relative to the working directory when inside it, else absolute",
    }
    write_frames(table, out_dir / H36M_TABLE, source, _producer(cfg))
    prefix = Path(stored_path(final))
    write_image_manifest(
        table,
        out_dir / f"h36m{MANIFEST_SUFFIX}",
        lambda p: out_dir / H36M_IMAGES / Path(p).relative_to(prefix),
        cfg.workers,
    )
    return _finish(summary, out_dir, start)


def extract_challenge(
    root: str | os.PathLike[str], cfg: ExtractConfig, out_dir: str | os.PathLike[str],
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ExtractSummary:  # fmt: skip
    """Challenge IMG/POSE tree -> ``challenge.parquet`` in `out_dir` (images stay in place).

    Raises FileNotFoundError / ValueError naming the file on bad input, an image over
    `max_pixels` among it (unless ``cfg.on_error == "skip"``); an empty `cfg.challenge_splits`
    writes an empty table.
    """
    start = time.perf_counter()
    root, out_dir = Path(root), Path(out_dir)
    summary = ExtractSummary("challenge", enabled=bool(cfg.challenge_splits))
    handler = None if cfg.on_error == "raise" else BadInputs(cfg.on_error, summary).skip
    tables = challenge.read_splits(root, cfg.challenge_splits, handler, max_pixels)
    summary.sequences = len(tables)
    table = concat_frames(tables)
    source = {
        "root": str(root),
        "reader": "pose3d.formats.challenge",
        "enabled": summary.enabled,
        "pose_source": "POSE csv; Test (no POSE): the _labels sidecar where present",
        "splits": list(cfg.challenge_splits),
        "sidecar_splits": [
            s for s in cfg.challenge_splits if challenge.sidecar_path(root, s).is_file()
        ],
    }
    write_frames(table, out_dir / CHALLENGE_TABLE, source, _producer(cfg, max_pixels))
    write_image_manifest(table, out_dir / f"challenge{MANIFEST_SUFFIX}", workers=cfg.workers)
    summary.rows = table.num_rows
    return _finish(summary, out_dir, start)


def extract(
    cfg: ExtractConfig,
    roots: tuple[str | os.PathLike[str], str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict[str, ExtractSummary]:
    """The stage: both readers (`roots` = Human3.6M, challenge) into `out_dir`, built aside and
    swapped in whole, so a failure in either leaves the previous outputs as they were. Challenge
    images over `max_pixels` (``infer_2d.max_pixels``: what the 2D route would refuse) are bad
    inputs here already."""
    with atomic_dir(out_dir) as tmp:
        h36m = extract_h36m(roots[0], cfg, tmp, final_dir=out_dir)
        chal = extract_challenge(roots[1], cfg, tmp, max_pixels)
    return {"h36m": h36m, "challenge": chal}


extract_task = stage_task(extract)
