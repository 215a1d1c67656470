"""Untrained detector, CPN and lifter checkpoints in a pipeline run's layout
(``<root>/train_{detector,cpn,lifter}/checkpoint.pt``), for the `pose3d predict` tests (imported
as `predict_weights`). Random weights: they check the plumbing and the output, not accuracy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from cpn_fixtures import tiny_cpn_config

from models.cpn import CPN
from models.lifter import Lifter
from models.ssd import DetectorConfig
from pose3d.config import LifterConfig, to_dict
from pose3d.lifting.geometry import GEOMETRY_COLUMNS
from pose3d.lifting.normalization import compute_stats
from tasks.engine import save_checkpoint
from tasks.route.detector import checkpoint_config, sized_detector
from tasks.train_cpn import cpn_config

CHECKPOINT = "checkpoint.pt"


def write_lifter(
    path: Path, floor_input: bool = False, seed: int = 0, min_score: float = 0.0
) -> Path:
    """A small lifter (width 32) with statistics of random poses around a 64 px image."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    cfg = LifterConfig(width=32, num_blocks=1, floor_input=floor_input, min_score=min_score)
    kp = rng.uniform(10, 54, (64, 17, 2))
    pose = rng.normal(0, 300, (64, 17, 3))
    pose -= pose[:, :1]
    geometry = np.full((64, len(GEOMETRY_COLUMNS)), np.nan) if floor_input else None
    stats = compute_stats(kp, np.full((64, 2), 64.0), pose, geometry=geometry)
    save_checkpoint(path, {
        "model": Lifter(cfg).state_dict(), "config": to_dict(cfg), "stats": stats.to_dict(),
        "extra": {"flip_test": True},
    })  # fmt: skip
    return path


def write_weights(root: Path) -> Path:
    """The three checkpoints under `root` (a `--weights-dir`); returns `root`."""
    torch.manual_seed(0)
    det_cfg = DetectorConfig(score_thresh=0.01)
    save_checkpoint(root / "train_detector" / CHECKPOINT, {
        "model": sized_detector(det_cfg, 64).state_dict(),
        "config": checkpoint_config(det_cfg, 64, False),
    })  # fmt: skip
    net = cpn_config(tiny_cpn_config())
    save_checkpoint(root / "train_cpn" / CHECKPOINT, {
        "model": CPN(net).state_dict(), "config": dataclasses.asdict(net),
        "extra": {"margin": 0.25, "flip_test": True,
                  "keypoint_square": {"side_ratio": 1.15, "offset_x": 0.0, "offset_y": 0.0}},
    })  # fmt: skip
    write_lifter(root / "train_lifter" / CHECKPOINT)
    return root
