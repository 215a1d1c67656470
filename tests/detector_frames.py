"""Tiny frames tables for the detector tests (imported as `detector_frames`): 64 x 64 JPEGs of a
dark rectangle (the "person") on a noisy light background, with the rectangle as the box."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from pose3d.frames import frames_table, write_frames


def _images(folder: Path, n: int, rng: np.random.Generator, size: int) -> tuple[list, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    paths, boxes = [], []
    for i in range(n):
        image = rng.integers(150, 230, (size, size, 3), dtype=np.uint8)
        w, h = rng.integers(size // 6, size // 3), rng.integers(size // 3, size * 2 // 3)
        x0, y0 = rng.integers(0, size - w), rng.integers(0, size - h)
        image[y0 : y0 + h, x0 : x0 + w] = (40, 60, 120)
        path = folder / f"{i:04d}.jpg"
        cv2.imwrite(str(path), image)
        paths.append(str(path))
        boxes.append((x0, y0, x0 + w, y0 + h))
    return paths, np.asarray(boxes, dtype=np.float64)


def write_box_frames(
    folder: Path,
    h36m: dict[str, int] | None = None,
    challenge: dict[str, tuple[str, int]] | None = None,
    size: int = 64,
    seed: int = 0,
) -> Path:
    """``folder/h36m.parquet`` (`h36m`: subject -> frames) and ``folder/challenge.parquet``
    (`challenge`: split -> (subject, images)), with their images under `folder`."""
    rng = np.random.default_rng(seed)
    h36m = {"S1": 16, "S5": 16, "S8": 8} if h36m is None else h36m
    challenge = {"Train": ("S1", 4), "Val": ("S9", 6)} if challenge is None else challenge
    for name, groups in (
        ("h36m", {subject: ("", subject, n) for subject, n in h36m.items()}),
        ("challenge", {split: (split, s, n) for split, (s, n) in challenge.items()}),
    ):
        tables = []
        for key, (split, subject, n) in groups.items():
            paths, boxes = _images(folder / f"{name}_images" / key, n, rng, size)
            tables.append(frames_table(
                dataset="h36m" if name == "h36m" else "challenge", split=split,
                subject=subject, action="Walking", camera="", frame=np.arange(n),
                image_path=paths, image_width=size, image_height=size, box_xyxy_px=boxes,
            ))  # fmt: skip
        write_frames(pa.concat_tables(tables), folder / f"{name}.parquet", source={}, producer={})
    return folder
