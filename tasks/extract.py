"""The `extract` stage: Human3.6M and challenge layouts -> frames tables and JPEG frames.

Outputs in `out_dir` (``paths.extract``):
- ``h36m.parquet``: one row per kept pose frame and camera; ``frame`` is the index in the
  pose file. 3D from the poses (camera frame, root-relative, plus the root), 2D by projection
  with distortion, boxes around the 2D. ``h36m_images/<subject>/<Action>.<camera>/<frame>.jpg``
  where the subject has a Videos folder and ``decode_frames`` is on, else null image paths.
- ``challenge.parquet``: one row per challenge image, referenced in place (not copied).
- ``h36m_summary.json``, ``challenge_summary.json``: rows, images and the skipped bad inputs.

Image paths are stored relative to the working directory (the project root under DVC) when the
file lies inside it, else absolute (`pose3d.frames.stored_path`). A disabled reader still writes
its (empty) table. Every file is written atomically; the image folder is built beside its
target and renamed into place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pose3d.camera import Camera
from pose3d.config import ExtractConfig, to_dict
from pose3d.formats import challenge
from pose3d.formats.h36m import action_spellings, camera_view, canonical_action, read_cameras
from pose3d.formats.h36m_cdf import read_sequence, resolve_pose_source, sequence_path
from pose3d.formats.video import find_video, probe_video, video_path, video_to_jpegs, videos_dir
from pose3d.frames import (
    boxes_from_keypoints,
    concat_frames,
    frames_table,
    stored_path,
    write_frames,
)
from pose3d.io import atomic_dir, write_json_atomic
from pose3d.skeleton import mocap32_to_h36m17
from tasks._prefect import logger, progress, stage_task

H36M_TABLE = "h36m.parquet"
CHALLENGE_TABLE = "challenge.parquet"
H36M_IMAGES = "h36m_images"
_CODE_FILES = (
    "pose3d/camera.py",
    "pose3d/frames.py",
    "pose3d/io.py",
    "pose3d/schema.py",
    "pose3d/skeleton.py",
    "pose3d/formats/challenge.py",
    "pose3d/formats/h36m.py",
    "pose3d/formats/h36m_cdf.py",
    "pose3d/formats/video.py",
    "tasks/extract.py",
)


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


def code_digest() -> str:
    """SHA-256 over the source files of this stage (changes only when its code does)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in _CODE_FILES:
        path = root / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def producer(cfg: ExtractConfig) -> dict[str, Any]:
    """The `producer` file metadata: stage, package version, code digest and params."""
    try:
        from importlib.metadata import version

        pkg_version = version("pose3d")
    except Exception:  # pragma: no cover - not installed
        pkg_version = "unknown"
    return {
        "stage": "extract",
        "package": "pose3d",
        "version": pkg_version,
        "code_sha256": code_digest(),
        "params": {"extract": to_dict(cfg)},
    }


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


def _h36m_cameras(root: Path, cfg: ExtractConfig) -> dict[tuple[str, str], Camera]:
    """cameras.h5 of the tree, restricted to `cfg.cameras`; clear errors for a bad root."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root}: Human3.6M root not found (set paths.h36m_root, or turn the reader off "
            "with extract.h36m_subjects=[])"
        )
    cams = read_cameras(root / "cameras.h5")
    if cfg.cameras:
        known = sorted({cam_id for _, cam_id in cams})
        unknown = sorted(set(cfg.cameras) - set(known))
        if unknown:
            raise ValueError(f"{root / 'cameras.h5'}: no camera(s) {unknown} (has {known})")
        cams = {key: cam for key, cam in cams.items() if key[1] in cfg.cameras}
    return cams


@dataclass
class _Context:
    cfg: ExtractConfig
    images_tmp: Path  # JPEGs are written here (a temporary folder) ...
    images_final: Path  # ... and stored as paths under this one, its final name
    bad: BadInputs
    pool: ThreadPoolExecutor  # decodes videos while the main thread reads poses


ImagesResult = tuple[list[str | None] | None, tuple[int, int]]


@dataclass
class _View:
    """One camera's rows of one pose sequence; the images may still be decoding."""

    subject: str
    action: str
    cam: Camera
    frames: np.ndarray  # (M,) kept frame indices of the pose file
    pose17_world_mm: np.ndarray  # (M, 17, 3), shared by the sequence's views
    images: Future[ImagesResult] | None


def _finite_frames(pose17: np.ndarray, frames: np.ndarray, path: Path, bad: BadInputs) -> Any:
    """Drop frames with NaN/inf joints (an error under on_error=raise)."""
    finite = np.isfinite(pose17).all(axis=(1, 2))
    if not finite.all():
        first = int(frames[~finite][0])
        count = int((~finite).sum())
        bad(
            path,
            ValueError(
                f"{path}: {count} pose frame(s) with NaN or infinite joints (first: frame {first})"
            ),
        )
    return pose17[finite], frames[finite]


def _sequence_images(view: _View, root: Path, n_poses: int, ctx: _Context) -> ImagesResult:
    """Decode one view's frames to JPEG: (stored paths, None where no image; (width, height))."""
    cam, subject, action, frames = view.cam, view.subject, view.action, view.frames
    no_images: ImagesResult = (None, (cam.width, cam.height))
    video = find_video(root, subject, action_spellings(action), cam.name)
    if video is None:
        missing = video_path(root, subject, action, cam.name)
        ctx.bad(missing, FileNotFoundError(f"{missing}: video not found"))
        return no_images
    folder = f"{subject}/{action.replace(' ', '_')}.{cam.name}"
    rel = [f"{folder}/{f:06d}.jpg" for f in frames]
    try:
        info = probe_video(video)
        ratio = ctx.cfg.video_frames_per_pose or max(1, round(info.frames / n_poses))
        outs = [ctx.images_tmp / r for r in rel]
        written, size = video_to_jpegs(video, (frames * ratio).tolist(), outs, ctx.cfg.jpeg_quality)
    except (ValueError, FileNotFoundError) as err:
        shutil.rmtree(ctx.images_tmp / folder, ignore_errors=True)  # what it wrote before failing
        ctx.bad(video, err)
        return no_images
    if written < len(frames):
        logger().warning("%s ends early: %d of %d frames decoded", video, written, len(frames))
    paths = [stored_path(ctx.images_final / r) if i < written else None for i, r in enumerate(rel)]
    return paths, size or (cam.width, cam.height)


def _view_table(view: _View, margin: float) -> pa.Table:
    """The rows of one view: 3D, 2D by projection, boxes and (once decoded) images."""
    images, (width, height) = (
        view.images.result() if view.images else (None, (view.cam.width, view.cam.height))
    )
    rel, root_cam, kp2d = camera_view(view.pose17_world_mm, view.cam)
    return frames_table(
        dataset="h36m",
        split="",
        subject=view.subject,
        action=canonical_action(view.action),
        camera=view.cam.name,
        frame=view.frames,
        image_path=images,
        image_width=width,
        image_height=height,
        box_xyxy_px=boxes_from_keypoints(kp2d, margin, width, height),
        kp2d_px=kp2d,
        pose3d_cam_mm=rel,
        root_cam_mm=root_cam,
    )


def _subject_views(
    root: Path, subject: str, cams: dict[tuple[str, str], Camera], ctx: _Context
) -> tuple[list[_View], str | None]:
    """Read one subject's pose files; start decoding its videos. Returns (views, pose source)."""
    subject_cams = [cam for (s, _), cam in sorted(cams.items()) if s == subject]
    try:
        if not subject_cams:
            raise ValueError(f"{root / 'cameras.h5'}: no (selected) cameras for {subject}")
        source, actions = resolve_pose_source(root, subject, ctx.cfg.pose_source)
    except (ValueError, FileNotFoundError) as err:
        ctx.bad(root / subject, err)
        return [], None
    decode = ctx.cfg.decode_frames and videos_dir(root, subject).is_dir()
    if ctx.cfg.decode_frames and not decode:
        logger().info("%s: no Videos folder, rows without images", root / subject)
    views: list[_View] = []
    for action in actions:
        path = sequence_path(root, subject, action, source)
        try:
            pose32 = read_sequence(path, source)
            if pose32.shape[0] == 0:
                raise ValueError(f"{path}: no pose frames")
        except (ValueError, FileNotFoundError) as err:
            ctx.bad(path, err)
            continue
        frames = np.arange(0, pose32.shape[0], ctx.cfg.frame_stride)
        pose17, frames = _finite_frames(mocap32_to_h36m17(pose32[frames]), frames, path, ctx.bad)
        for cam in subject_cams:
            view = _View(subject, action, cam, frames, pose17, None)
            if decode:
                view.images = ctx.pool.submit(_sequence_images, view, root, len(pose32), ctx)
            views.append(view)
    return views, source


def extract_h36m(
    root: str | os.PathLike[str], cfg: ExtractConfig, out_dir: str | os.PathLike[str]
) -> ExtractSummary:
    """Human3.6M tree -> ``h36m.parquet`` (+ ``h36m_images/``) in `out_dir`.

    Raises FileNotFoundError / ValueError naming the file on bad input (unless
    ``cfg.on_error == "skip"``); an empty `cfg.h36m_subjects` writes an empty table.
    """
    start = time.perf_counter()
    root, out_dir = Path(root), Path(out_dir)
    summary = ExtractSummary("h36m", enabled=bool(cfg.h36m_subjects))
    cams = _h36m_cameras(root, cfg) if summary.enabled else {}
    sources: dict[str, str | None] = {}
    final = out_dir / H36M_IMAGES
    with atomic_dir(final) as tmp:
        # the pool stops (running decodes finish, queued ones are cancelled) before a failed
        # build's temporary folder is removed
        pool = ThreadPoolExecutor(cfg.workers or os.cpu_count() or 1, "extract-decode")
        try:
            ctx = _Context(cfg, tmp, final, BadInputs(cfg.on_error, summary), pool)
            views: list[_View] = []
            for subject in cfg.h36m_subjects:
                subject_views, sources[subject] = _subject_views(root, subject, cams, ctx)
                views += subject_views
            tables = [
                _view_table(view, cfg.box_margin)
                for view in progress(views, len(views), "extract h36m (sequence x camera)")
            ]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    if not any(final.iterdir()):
        final.rmdir()
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
    write_frames(table, out_dir / H36M_TABLE, source, producer(cfg))
    return _finish(summary, out_dir, start)


def extract_challenge(
    root: str | os.PathLike[str], cfg: ExtractConfig, out_dir: str | os.PathLike[str]
) -> ExtractSummary:
    """Challenge IMG/POSE tree -> ``challenge.parquet`` in `out_dir` (images stay in place).

    Raises FileNotFoundError / ValueError naming the file on bad input (unless
    ``cfg.on_error == "skip"``); an empty `cfg.challenge_splits` writes an empty table.
    """
    start = time.perf_counter()
    root, out_dir = Path(root), Path(out_dir)
    summary = ExtractSummary("challenge", enabled=bool(cfg.challenge_splits))
    handler = None if cfg.on_error == "raise" else BadInputs(cfg.on_error, summary).skip
    tables = challenge.read_splits(root, cfg.challenge_splits, handler)
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
    write_frames(table, out_dir / CHALLENGE_TABLE, source, producer(cfg))
    summary.rows = table.num_rows
    return _finish(summary, out_dir, start)


extract_h36m_task = stage_task(extract_h36m)
extract_challenge_task = stage_task(extract_challenge)
