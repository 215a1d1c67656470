"""Checkpoints and curves of `tasks.lifter.train_lifter`, and when a checkpoint may be resumed.

A checkpoint is resumed only when its fingerprint matches: the `train_lifter` config, the seed,
a hash of the training code (`TRAINING_CODE`) and a hash of the training rows.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pose3d.config import TrainLifterConfig, to_dict
from pose3d.io import atomic_path, write_text_atomic
from pose3d.lifting import LiftingDataset
from tasks._prefect import logger

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.csv"
HISTORY_FIELDS = ("epoch", "lr", "train_loss", "val_mpjpe_p1_mm", "train_seconds", "samples_per_s")

# The modules whose code decides what training computes; other code means no resuming.
TRAINING_CODE = (
    "tasks.lifter", "tasks.lifter_epoch", "models.lifter", "pose3d.augment", "pose3d.normalization",
    "pose3d.lifting", "pose3d.camera", "pose3d.skeleton", "pose3d.floor",
)  # fmt: skip


def code_hash() -> str:
    digest = hashlib.sha256()
    for name in TRAINING_CODE:
        digest.update(Path(str(importlib.import_module(name).__file__)).read_bytes())
    return digest.hexdigest()[:16]


def data_hash(rows: LiftingDataset) -> str:
    digest = hashlib.sha256()
    for array in (rows.kp2d_px, rows.pose3d_cam_mm, rows.geometry):
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def fingerprint(cfg: TrainLifterConfig, seed: int, rows: LiftingDataset) -> dict[str, Any]:
    """What decides a training run: a checkpoint is resumed only when all of it matches."""
    return {"train_lifter": to_dict(cfg), "seed": seed, "code": code_hash(),
            "data": data_hash(rows)}  # fmt: skip


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HISTORY_FIELDS)
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(path, out.getvalue())


def resume_state(path: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint:
        logger().warning("%s: made with another configuration or code; training from scratch", path)
        return None
    return state
