"""One Human3.6M subject as per-camera views, for the `extract` stage (tasks.extract).

`subject_views` reads a subject's pose files (CDF or HDF5), keeps every `frame_stride`-th frame
with finite joints, and starts decoding each camera's video to JPEG in a thread pool;
`view_table` turns one view into frames-table rows (3D in the camera frame, 2D by projection
with distortion, boxes, and the decoded images once ready). Bad inputs go to the context's `bad`
handler, which raises or records them (``extract.on_error``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pose3d.camera import Camera
from pose3d.config import ExtractConfig
from pose3d.formats.h36m import action_spellings, camera_view, canonical_action, read_cameras
from pose3d.formats.h36m_cdf import read_sequence, resolve_pose_source, sequence_path
from pose3d.formats.video import find_video, probe_video, video_path, video_to_jpegs, videos_dir
from pose3d.frames import boxes_from_keypoints, frames_table, stored_path
from pose3d.skeleton import mocap32_to_h36m17
from tasks._prefect import logger


def h36m_cameras(root: Path, cfg: ExtractConfig) -> dict[tuple[str, str], Camera]:
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
class ViewContext:
    """What the views of one extraction share: the params, the image folders, the bad-input
    handler and the pool that decodes videos."""

    cfg: ExtractConfig
    images_tmp: Path  # JPEGs are written here (a temporary folder) ...
    images_final: Path  # ... and stored as paths under this one, its final name
    bad: Callable[[Path, Exception], None]  # raises or records (tasks.extract.BadInputs)
    pool: ThreadPoolExecutor  # decodes videos while the main thread reads poses


# (stored image path per kept frame, None where not decoded; or None for no images), (width, height)
ImagesResult = tuple[list[str | None] | None, tuple[int, int]]


@dataclass
class View:
    """One camera's rows of one pose sequence; the images may still be decoding."""

    subject: str
    action: str
    cam: Camera
    frames: np.ndarray  # (M,) kept frame indices of the pose file
    pose17_world_mm: np.ndarray  # (M, 17, 3), shared by the sequence's views
    images: Future[ImagesResult] | None


def _finite_frames(
    pose17: np.ndarray, frames: np.ndarray, path: Path, bad: Callable[[Path, Exception], None]
) -> Any:
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


def _sequence_images(view: View, root: Path, n_poses: int, ctx: ViewContext) -> ImagesResult:
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


def view_table(view: View, margin: float) -> pa.Table:
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


def subject_views(
    root: Path, subject: str, cams: dict[tuple[str, str], Camera], ctx: ViewContext
) -> tuple[list[View], str | None]:
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
    views: list[View] = []
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
            view = View(subject, action, cam, frames, pose17, None)
            if decode:
                view.images = ctx.pool.submit(_sequence_images, view, root, len(pose32), ctx)
            views.append(view)
    return views, source
