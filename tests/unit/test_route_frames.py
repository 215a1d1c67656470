"""`tasks.route.frames.Frames2D.content_key`: what decides whether a 2D training run resumes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tasks.engine import array_digest
from tasks.route.frames import Frames2D


def _frames(tmp_path: Path, fill: int) -> Frames2D:
    paths = []
    for i in range(2):
        image = np.full((32, 32, 3), 40 * i, np.uint8)
        image[8:24, 8:24] = fill  # an occluder, say: the labels below stay the same
        paths.append(str(tmp_path / f"{i}.jpg"))
        assert cv2.imwrite(paths[-1], image)
    boxes = np.tile([4.0, 4.0, 28.0, 28.0], (2, 1))
    return Frames2D(
        np.array(paths), np.array(["S1", "S1"]), np.array(["", ""]), boxes,
        np.zeros((2, 17, 2)), np.tile([32, 32], (2, 1)),
    )  # fmt: skip


def test_content_key_changes_with_the_images_not_only_the_labels(tmp_path: Path) -> None:
    first = array_digest(_frames(tmp_path, fill=0).content_key())
    assert array_digest(_frames(tmp_path, fill=0).content_key()) == first  # rewritten alike
    assert array_digest(_frames(tmp_path, fill=255).content_key()) != first  # other pixels
