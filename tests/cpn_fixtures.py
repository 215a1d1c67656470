"""Tiny Human3.6M-layout frames tables with images, for the train_cpn tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from pose3d.config import TrainCPNConfig
from pose3d.frames import frames_table, write_frames

IMAGE_SIZE = 96


def tiny_cpn_config(**changes: object) -> TrainCPNConfig:
    """A CPN config that trains in about a second: ResNet-18, 64 x 64 crops, 8 channels."""
    values: dict[str, object] = {
        "backbone": "resnet18", "input_size": 64, "channels": 8, "subjects": ("S1",),
        "heldout_subjects": ("S8",), "max_images": 0, "epochs": 1, "batch_size": 2,
        "lr": 1e-3, "weight_decay": 1e-4, "rotate_deg": 20.0, "log2_scale": 0.2, "flip": True,
        "flip_test": True, "bf16": True, "channels_last": True,
    }  # fmt: skip
    values.update(changes)
    return TrainCPNConfig(**values)  # type: ignore[arg-type]


def _person(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random joints in a tall box, and that box. Shapes: -> (17, 2), (4,)."""
    cx, cy = rng.uniform(35, 60, 2)
    kp = np.stack([cx + rng.uniform(-10, 10, 17), cy + rng.uniform(-28, 28, 17)], axis=-1)
    box = np.concatenate([kp.min(0) - 3, kp.max(0) + 3])
    return kp, box


def write_tiny_extract(folder: Path, per_subject: int = 4, challenge_val: str = "S9") -> None:
    """``folder/h36m.parquet`` with `per_subject` frames of S1 and S8 (absolute image paths,
    a dot drawn at each joint) and ``folder/challenge.parquet`` whose Val split is
    `challenge_val`."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    tables = []
    for subject in ("S1", "S8"):
        kps, boxes, paths = [], [], []
        for i in range(per_subject):
            kp, box = _person(rng)
            image = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 40, np.uint8)
            for j, (x, y) in enumerate(kp):
                cv2.circle(image, (round(x), round(y)), 2, (200, 10 * j, 255 - 10 * j), -1)
            path = folder / "images" / subject / f"{i:06d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), image)
            kps.append(kp)
            boxes.append(box)
            paths.append(str(path))
        tables.append(frames_table(
            dataset="h36m", split="", subject=subject, action="Walking", camera="10000001",
            frame=np.arange(per_subject), image_path=paths, image_width=IMAGE_SIZE,
            image_height=IMAGE_SIZE, box_xyxy_px=np.array(boxes), kp2d_px=np.array(kps),
        ))  # fmt: skip
    write_frames(pa.concat_tables(tables), folder / "h36m.parquet", source={}, producer={})
    challenge = frames_table(
        dataset="challenge", split=["Train", "Val"], subject=["S5", challenge_val], action="",
        camera="", frame=np.arange(2), kp2d_px=rng.normal(50, 10, (2, 17, 2)),
    )  # fmt: skip
    write_frames(challenge, folder / "challenge.parquet", source={}, producer={})
