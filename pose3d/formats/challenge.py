"""The ECCV 2018 PoseTrack 3D challenge layout (see ../shared/data/README.md).

Layout: ``<root>/<Split>/IMG/%05d.jpg`` and ``<root>/<Split>/POSE/%05d.csv`` (Train, Val; Test has
no POSE). Each CSV holds 17 rows ``x,y,z``: the H36M-17 joints in the camera frame, millimetres,
root-relative. The synthetic world adds a sidecar ``<root>/_labels/<Split>.parquet`` (a frames
table whose image paths are relative to the root) with what the real challenge lacks: subject,
action, camera, box, 2D keypoints and root; the real challenge has none.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pose3d.config import CHALLENGE_SPLITS
from pose3d.frames import ARRAY_SHAPES, frames_arrays, frames_table, read_frames, stored_path
from pose3d.images import DEFAULT_MAX_PIXELS, verify_image
from pose3d.skeleton import NUM_JOINTS

SPLITS: tuple[str, ...] = CHALLENGE_SPLITS
IMAGE_DIR = "IMG"
POSE_DIR = "POSE"
LABELS_DIR = "_labels"
NUMBER_DIGITS = 5

# Called with (file, what was wrong) for a bad input that is to be skipped rather than raised.
OnBad = Callable[[Path, str], None]


def image_path(root: str | os.PathLike[str], split: str, number: int) -> Path:
    """``<root>/<split>/IMG/<number:05d>.jpg``."""
    return Path(root) / split / IMAGE_DIR / f"{number:0{NUMBER_DIGITS}d}.jpg"


def pose_path(root: str | os.PathLike[str], split: str, number: int) -> Path:
    """``<root>/<split>/POSE/<number:05d>.csv``."""
    return Path(root) / split / POSE_DIR / f"{number:0{NUMBER_DIGITS}d}.csv"


def sidecar_path(root: str | os.PathLike[str], split: str) -> Path:
    """``<root>/_labels/<split>.parquet`` (synthetic data only)."""
    return Path(root) / LABELS_DIR / f"{split}.parquet"


def _numbers(folder: Path, suffix: str, on_bad: OnBad | None = None) -> list[int]:
    """Sorted numbers of the ``<digits><suffix>`` files in `folder` (the suffix in lower case,
    as the layout writes it; hidden files ignored). Any other file is an error naming it, or,
    with `on_bad`, reported and passed over: a stray ``Thumbs.db`` costs nothing but its line."""
    numbers = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix != suffix or not path.stem.isdigit():
            reason = f"{path}: unexpected file, expected names like 00001{suffix}"
            if on_bad is None:
                raise ValueError(reason)
            on_bad(path, reason)
            continue
        numbers.append(int(path.stem))
    return sorted(numbers)


def list_images(root: str | os.PathLike[str], split: str, on_bad: OnBad | None = None) -> list[int]:
    """Image numbers of a split, sorted. Raises FileNotFoundError if it has no IMG folder."""
    folder = Path(root) / split / IMAGE_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (challenge split {split!r})")
    return _numbers(folder, ".jpg", on_bad)


def list_poses(
    root: str | os.PathLike[str], split: str, on_bad: OnBad | None = None
) -> list[int] | None:
    """Pose numbers of a split, sorted; None if the split has no POSE folder (like Test)."""
    folder = Path(root) / split / POSE_DIR
    if not folder.is_dir():
        return None
    return _numbers(folder, ".csv", on_bad)


def parse_pose_csv(text: str, where: str) -> np.ndarray:
    """Parse the text of a POSE CSV. Shapes: -> (17, 3) camera-frame mm, root-relative."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != NUM_JOINTS:
        raise ValueError(f"{where}: expected {NUM_JOINTS} rows of x,y,z, found {len(lines)} rows")
    out = np.empty((NUM_JOINTS, 3), dtype=np.float64)
    for i, line in enumerate(lines):
        fields = line.split(",")
        if len(fields) != 3:
            raise ValueError(f"{where}: row {i + 1} has {len(fields)} fields, expected 3 (x,y,z)")
        try:
            out[i] = [float(v) for v in fields]
        except ValueError:
            raise ValueError(f"{where}: row {i + 1} is not 3 numbers: {line.strip()!r}") from None
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.argwhere(bad)[0, 0])
        raise ValueError(f"{where}: row {row + 1} has a NaN or infinite value")
    return out


def read_pose_csv(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one POSE CSV. Shapes: -> (17, 3) camera-frame mm, root-relative, float64."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: pose file not found")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable text file ({err})") from err
    return parse_pose_csv(text, str(path))


def write_pose_csv(path: str | os.PathLike[str], pose3d_cam_mm: np.ndarray) -> None:
    """Write one POSE CSV (17 rows ``x,y,z``, 6 decimals). Shapes: (17, 3)."""
    pose = np.asarray(pose3d_cam_mm, dtype=np.float64)
    if pose.shape != (NUM_JOINTS, 3):
        raise ValueError(f"expected a pose of shape (17, 3), got {pose.shape}")
    Path(path).write_text("".join(f"{x:.6f},{y:.6f},{z:.6f}\n" for x, y, z in pose))


def read_split_poses(
    root: str | os.PathLike[str], split: str, numbers: list[int], on_bad: OnBad | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read the POSE CSVs of `numbers`; bad files raise, or go to `on_bad` and are left out.

    Returns (kept numbers, poses). Shapes: -> (M,), (M, 17, 3) camera-frame mm, root-relative.
    """
    kept, poses = [], []
    for number in numbers:
        path = pose_path(root, split, number)
        try:
            poses.append(read_pose_csv(path))
        except (ValueError, FileNotFoundError) as err:
            if on_bad is None:
                raise
            on_bad(path, str(err))
            continue
        kept.append(number)
    pose_arr = np.stack(poses) if poses else np.empty((0, NUM_JOINTS, 3))
    return np.asarray(kept, dtype=np.int64), pose_arr


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of a JPEG from its header, without decoding it.

    Raises FileNotFoundError, or ValueError naming the file if it is not a readable JPEG.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image not found")
    with path.open("rb") as f:
        if f.read(2) != b"\xff\xd8":
            raise ValueError(f"{path}: not a JPEG image (no start-of-image marker)")
        while True:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0xFF:
                raise ValueError(f"{path}: corrupt or truncated JPEG (no frame header)")
            marker, length = head[1], struct.unpack(">H", head[2:])[0]
            if marker in _SOF_MARKERS:
                body = f.read(5)
                if len(body) < 5:
                    raise ValueError(f"{path}: truncated JPEG frame header")
                height, width = struct.unpack(">HH", body[1:5])
                if width == 0 or height == 0:
                    raise ValueError(f"{path}: JPEG header gives an empty image")
                return int(width), int(height)
            if length < 2:
                raise ValueError(f"{path}: corrupt JPEG segment length")
            f.seek(length - 2, os.SEEK_CUR)


def _image_sizes(
    root: Path, split: str, numbers: np.ndarray, on_bad: OnBad | None, max_pixels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Image sizes from a full decode (`pose3d.images.verify_image`, so a truncated or corrupt
    image, or one over `max_pixels`, is caught here, not in a later stage); returns (keep mask,
    (M, 2) sizes)."""
    keep = np.ones(len(numbers), dtype=bool)
    sizes = np.zeros((len(numbers), 2), dtype=np.int64)
    for i, number in enumerate(numbers):
        path = image_path(root, split, int(number))
        try:
            sizes[i] = verify_image(path, max_pixels)
        except (ValueError, FileNotFoundError) as err:
            if on_bad is None:
                raise
            on_bad(path, str(err))
            keep[i] = False
    return keep, sizes


def _match_poses(
    root: Path, split: str, images: list[int], on_bad: OnBad | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Image numbers that keep a row, and their CSV poses (None where the split has no POSE)."""
    poses = list_poses(root, split, on_bad)
    if poses is None:
        return np.asarray(images, dtype=np.int64), None
    orphans = sorted(set(poses) - set(images))
    for number in orphans:
        path = pose_path(root, split, number)
        reason = f"{path}: pose without an image ({image_path(root, split, number)} is missing)"
        if on_bad is None:
            raise FileNotFoundError(reason)
        on_bad(path, reason)
    # an image without its CSV is reported by read_split_poses as a missing file
    return read_split_poses(root, split, images, on_bad)


def read_split(
    root: str | os.PathLike[str], split: str, on_bad: OnBad | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> pa.Table:  # fmt: skip
    """Read one split into a frames table (dataset "challenge", frame = image number).

    Poses come from the CSVs (Train, Val), else from the sidecar where there is one (Test of
    the synthetic world). The sidecar, where present, adds subject, action, camera, box, 2D
    keypoints and root; elsewhere they are "" or null. Image paths are stored as
    `pose3d.frames.stored_path` gives them. Bad files (an image over `max_pixels` among them)
    raise, naming the file and the problem, or are reported to `on_bad` and their rows left out.
    """
    root = Path(root)
    images = list_images(root, split, on_bad)
    if not images:
        raise ValueError(f"{root / split / IMAGE_DIR}: no images (expected 00001.jpg, ...)")
    numbers, poses = _match_poses(root, split, images, on_bad)
    keep, sizes = _image_sizes(root, split, numbers, on_bad, max_pixels)
    numbers, sizes = numbers[keep], sizes[keep]
    pose_rows = None if poses is None else poses[keep]
    n = len(numbers)
    rel_paths = [f"{split}/{IMAGE_DIR}/{num:0{NUMBER_DIGITS}d}.jpg" for num in numbers]
    columns: dict[str, Any] = {
        "subject": np.full(n, "", dtype=object),
        "action": np.full(n, "", dtype=object),
        "camera": np.full(n, "", dtype=object),
        "pose3d_cam_mm": pose_rows,
    }
    sidecar = sidecar_path(root, split)
    if sidecar.is_file():
        _merge_sidecar(columns, read_frames(sidecar), rel_paths, sidecar)
    return frames_table(
        dataset="challenge",
        split=split,
        frame=numbers,
        image_path=[stored_path(root / rel) for rel in rel_paths],
        image_width=sizes[:, 0],
        image_height=sizes[:, 1],
        **columns,
    )


def _merge_sidecar(
    columns: dict[str, Any], labels: pa.Table, rel_paths: list[str], where: Path
) -> None:
    """Fill `columns` from the sidecar rows whose image_path matches (relative to the root)."""
    arrays = frames_arrays(labels)
    index = {}
    for i, path in enumerate(arrays["image_path"]):
        if path is None:
            raise ValueError(f"{where}: row {i} has no image_path")
        index[Path(path).as_posix()] = i
    rows = np.array([index.get(p, -1) for p in rel_paths], dtype=np.int64)
    found = rows >= 0
    for name in ("subject", "action", "camera"):
        columns[name][found] = arrays[name][rows[found]]
    for name, shape in ARRAY_SHAPES.items():
        merged = np.full((len(rel_paths), *shape), np.nan, dtype=np.float32)
        merged[found] = arrays[name][rows[found]]
        if name == "pose3d_cam_mm" and columns[name] is not None:
            continue  # the CSVs are the challenge's own 3D; the sidecar only fills Test
        columns[name] = merged


def read_splits(
    root: str | os.PathLike[str], splits: Sequence[str], on_bad: OnBad | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[pa.Table]:  # fmt: skip
    """`read_split` for each of `splits`.

    A missing root raises FileNotFoundError. A split that is bad as a whole (no IMG folder, no
    images, a bad sidecar) raises, or goes to `on_bad` and is left out.
    """
    root = Path(root)
    if splits and not root.is_dir():
        raise FileNotFoundError(
            f"{root}: challenge root not found (set paths.challenge_root, or turn the reader "
            "off with extract.challenge_splits=[])"
        )
    tables = []
    for split in splits:
        folder = root / split / IMAGE_DIR
        try:
            if not folder.is_dir():
                found = sorted(p.parent.name for p in root.glob(f"*/{IMAGE_DIR}")) or "none"
                raise FileNotFoundError(
                    f"{folder}: no such folder for challenge split {split!r} (splits found "
                    f"under {root}: {found}; set extract.challenge_splits)"
                )
            tables.append(read_split(root, split, on_bad, max_pixels))
        except (FileNotFoundError, ValueError) as err:  # the split as a whole is bad
            if on_bad is None:
                raise
            on_bad(folder, f"challenge split {split!r} left out: {err}")
    return tables
