"""The images with 2D labels that the 2D stages train and are scored on: rows of `extract`'s
frames tables (``h36m.parquet``: Human3.6M-layout video frames; ``challenge.parquet``: the
challenge images with the boxes and 2D of their labels), as arrays, plus the rule that keeps
the challenge's Val and Test subjects out of 2D training.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pose3d.frames import (
    frames_arrays,
    frames_table,
    read_frames,
    write_frames,
)
from pose3d.images import DEFAULT_MAX_PIXELS, BadImage, read_image, verify_image
from pose3d.metrics import facing_camera


@dataclass(frozen=True)
class Frames2D:
    """Labelled images. Shapes: image_path (N,) str; subject, split (N,) str; box_xyxy_px (N, 4)
    px; kp2d_px (N, 17, 2) px (NaN = missing); image_wh (N, 2) px; facing (N,) how much the
    person faces the camera (`pose3d.metrics.facing_camera`; NaN without 3D labels)."""

    image_path: np.ndarray
    subject: np.ndarray
    split: np.ndarray
    box_xyxy_px: np.ndarray
    kp2d_px: np.ndarray
    image_wh: np.ndarray
    facing: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.image_path)

    def content_key(self) -> list[np.ndarray]:
        """What a training run on these rows depends on, for its checkpoint's fingerprint: the
        image paths, the files' sizes (a regenerated image, e.g. with other occluders, changes
        its size while its labels stay) and the labels. Shapes: (N,) paths, (N,) sizes, boxes,
        keypoints."""
        sizes = np.array([os.stat(p).st_size for p in self.image_path], dtype=np.int64)
        return [self.image_path.astype(str), sizes, self.box_xyxy_px, self.kp2d_px]

    def even_sample(self, n: int) -> Frames2D:
        """`n` rows evenly spread over the table (all of them when there are fewer)."""
        if len(self) <= n:
            return self
        return self.take(np.linspace(0, len(self) - 1, n).round().astype(int))

    def take(self, index: np.ndarray) -> Frames2D:
        return Frames2D(
            self.image_path[index], self.subject[index], self.split[index],
            self.box_xyxy_px[index], self.kp2d_px[index], self.image_wh[index],
            None if self.facing is None else self.facing[index],
        )  # fmt: skip


def load_frames_2d(
    table_path: str | os.PathLike[str],
    subjects: Sequence[str] = (),
    splits: Sequence[str] = (),
    max_images: int = 0,
) -> Frames2D:
    """The rows of a frames table with an image, of `subjects` (empty: all) and `splits`
    (empty: all); with ``max_images > 0`` an evenly spaced sample of that many.

    Raises FileNotFoundError for a missing table and ValueError naming the table and the
    selection when no row is left.
    """
    path = Path(table_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: frames table not found (run the `extract` stage)")
    arrays = frames_arrays(read_frames(path))
    image_path = np.asarray(arrays["image_path"], dtype=object)
    keep = np.array([bool(p) for p in image_path], dtype=bool)
    if subjects:
        keep &= np.isin(arrays["subject"].astype(str), list(subjects))
    if splits:
        keep &= np.isin(arrays["split"].astype(str), list(splits))
    index = np.flatnonzero(keep)
    if len(index) == 0:
        raise ValueError(
            f"{path}: no rows with an image for subjects {list(subjects) or 'all'}, "
            f"splits {list(splits) or 'all'}"
        )
    if 0 < max_images < len(index):
        index = index[np.linspace(0, len(index) - 1, max_images).round().astype(int)]
    wh = np.stack([arrays["image_width"], arrays["image_height"]], axis=1).astype(np.float64)
    facing = facing_camera(arrays["pose3d_cam_mm"][index], arrays["root_cam_mm"][index])
    return Frames2D(
        image_path[index].astype(str), arrays["subject"][index].astype(str),
        arrays["split"][index].astype(str), arrays["box_xyxy_px"][index].astype(np.float64),
        arrays["kp2d_px"][index].astype(np.float64), wh[index], facing,
    )  # fmt: skip


def read_rgb(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An image as (H, W, 3) uint8 RGB: grey, 16-bit and 4-channel images converted; raises
    `pose3d.images.BadImage` naming the file when it cannot be read."""
    return cv2.cvtColor(read_image(path, max_pixels), cv2.COLOR_BGR2RGB)


def write_images_table(
    image_paths: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
    split: str = "Test",
) -> Path:  # fmt: skip
    """A challenge-layout frames table (``out_dir/challenge.parquet``) listing any images, one
    row each (frame = position + 1, camera = the file name), so that `infer_2d` runs on them
    with ``paths.extract=out_dir``. Sizes of images that cannot be read stay unknown; `infer_2d`
    reports those images by name. Returns the table's path."""
    paths = [str(Path(p).resolve()) for p in image_paths]
    sizes = np.full((len(paths), 2), np.nan)
    for i, p in enumerate(paths):
        with contextlib.suppress(BadImage, FileNotFoundError):  # infer_2d names them
            sizes[i] = verify_image(p)
    table = frames_table(
        dataset="challenge", split=split, subject="", action="",
        camera=[Path(p).name for p in paths], frame=np.arange(1, len(paths) + 1),
        image_path=paths, image_width=sizes[:, 0], image_height=sizes[:, 1],
    )  # fmt: skip
    out = Path(out_dir) / "challenge.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_frames(table, out, source={"images": len(paths)}, producer={"name": "images_table"})
    return out
