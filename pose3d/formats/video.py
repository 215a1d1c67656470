"""Human3.6M videos ``S*/Videos/<Action>.<camera_id>.mp4``: finding, probing, decoding (OpenCV).

Decoding is sequential (``grab`` skips a frame without converting it), since seeking in MP4
files is not frame exact. JPEG output goes through `write_jpeg`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pose3d.io import atomic_path

VIDEOS_DIR = "Videos"
VIDEO_SUFFIX = ".mp4"


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says: frame count (may be approximate), size and rate."""

    path: Path
    frames: int
    width: int
    height: int
    fps: float


def videos_dir(root: str | os.PathLike[str], subject: str) -> Path:
    return Path(root) / subject / VIDEOS_DIR


def video_path(root: str | os.PathLike[str], subject: str, action: str, camera: str) -> Path:
    """``<root>/<subject>/Videos/<action>.<camera>.mp4``."""
    return videos_dir(root, subject) / f"{action}.{camera}{VIDEO_SUFFIX}"


def find_video(
    root: str | os.PathLike[str], subject: str, actions: Sequence[str], camera: str
) -> Path | None:
    """The first existing video among the spellings `actions` of one action, else None."""
    for action in actions:
        for spelling in (action, action.replace(" ", "_")):
            path = video_path(root, subject, spelling, camera)
            if path.is_file():
                return path
    return None


def _open(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: video not found")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise ValueError(f"{path}: not a readable video (OpenCV cannot open it)")
    return cap


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, size and rate of a video, from its container."""
    path = Path(path)
    cap = _open(path)
    try:
        info = VideoInfo(
            path=path,
            frames=int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=float(cap.get(cv2.CAP_PROP_FPS)),
        )
    finally:
        cap.release()
    if info.frames <= 0 or info.width <= 0 or info.height <= 0:
        raise ValueError(f"{path}: video reports no frames or an empty size")
    return info


def iter_frames(
    path: str | os.PathLike[str], indices: Iterable[int]
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the frames `indices` (0-based, strictly increasing) of a video, in order.

    Stops early, without error, when the video ends before an index; the caller compares what
    came back with what it asked for. Shapes: yields (index, image (H, W, 3) uint8 BGR).
    """
    path = Path(path)
    cap = _open(path)
    try:
        position = 0  # index of the next frame `grab` returns
        last = -1
        for index in indices:
            if index <= last:
                raise ValueError(f"{path}: frame indices must increase, got {index} after {last}")
            last = index
            while position < index:
                if not cap.grab():
                    return
                position += 1
            ok, image = cap.read()
            if not ok or image is None:
                return
            position += 1
            yield index, image
    finally:
        cap.release()


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """Encode `image` (H, W, 3) uint8 BGR as JPEG at `quality` (1..100)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def write_jpeg(path: str | os.PathLike[str], image: np.ndarray, quality: int) -> None:
    """Encode `image` (H, W, 3) uint8 BGR as JPEG and write it atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(encode_jpeg(image, quality))


def video_to_jpegs(
    video: str | os.PathLike[str], indices: Sequence[int], paths: Sequence[Path], quality: int
) -> tuple[int, tuple[int, int] | None]:
    """Decode frames `indices` (increasing) of `video` into the JPEG files `paths`.

    Writes plainly (the caller builds inside a temporary folder). Returns (how many frames
    were written, fewer than asked when the video ends early; their (width, height) or None).
    """
    if len(indices) != len(paths):
        raise ValueError(f"{video}: {len(indices)} frame indices but {len(paths)} output paths")
    written = 0
    size: tuple[int, int] | None = None
    for (_, image), path in zip(iter_frames(video, indices), paths, strict=False):
        size = (int(image.shape[1]), int(image.shape[0]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_jpeg(image, quality))
        written += 1
    return written, size


def write_video(
    path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: float, codec: str = "mp4v"
) -> int:
    """Write BGR uint8 frames (all the same size) to a video atomically; returns the frame count.

    Shapes: frames (H, W, 3) each.
    """
    path = Path(path)
    writer: cv2.VideoWriter | None = None
    count = 0
    with atomic_path(path, suffix=path.suffix or VIDEO_SUFFIX) as tmp:
        try:
            for image in frames:
                if writer is None:
                    height, width = image.shape[:2]
                    fourcc = cv2.VideoWriter.fourcc(*codec)
                    writer = cv2.VideoWriter(str(tmp), fourcc, float(fps), (width, height))
                    if not writer.isOpened():
                        raise ValueError(f"{path}: OpenCV cannot write codec {codec!r}")
                writer.write(image)
                count += 1
        finally:
            if writer is not None:
                writer.release()
        if count == 0:
            raise ValueError(f"{path}: no frames to write")
    return count
