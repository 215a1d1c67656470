"""The same data, params and seed give the same model and the same metrics (issue: reruns of
`make run` must not move the figures)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from pose3d.config import AugmentConfig, LifterConfig, TrainLifterConfig
from pose3d.lifting.dataset import LiftingDataset
from tasks.evaluate import evaluate_lifter
from tasks.train_lifter import train_lifter


def _rows(n: int = 512) -> LiftingDataset:
    rng = np.random.default_rng(3)
    pose = rng.normal(0, 200, (n, 17, 3))
    pose -= pose[:, :1]
    absolute = pose + [0.0, 0.0, 5000.0]
    kp = 1000.0 * absolute[..., :2] / absolute[..., 2:] + 500.0
    view = [0.0, 0.0, 5000.0, 0.0, -1.0, 0.0, 1000.0, 1000.0, 500.0, 500.0, 0, 0, 0, 0, 0, 1500]
    return LiftingDataset(
        kp.astype(np.float32), pose.astype(np.float32), np.full(n, "S1", object),
        np.array([f"Walking {i % 2}" for i in range(n)], object), np.full(n, "c1", object),
        np.tile([1000.0, 1000.0], (n, 1)), np.tile([500.0, 500.0], (n, 1)),
        np.tile(view, (n, 1)),
    )  # fmt: skip


def test_two_runs_give_the_same_weights_and_metrics(tmp_path: Path) -> None:
    cfg = TrainLifterConfig(
        model=LifterConfig(width=64, num_blocks=2, dropout=0.1, matmul_dtype="bfloat16",
                           floor_input=True),
        epochs=2, batch_size=64, lr=2e-3, lr_schedule="cosine", lr_decay=0.96,
        lr_decay_steps=1000, warmup_fraction=0.02, weight_decay=0.0, loss="mpjpe",
        norm_2d="zscore", flip_train=True, flip_test=True,
        augment=AugmentConfig(probability=0.5, bone_scale=0.1, body_scale=0.1),
        bn_recalibration_batches=4,
    )  # fmt: skip
    data = _rows()
    runs = []
    for name in ("a", "b"):
        result = train_lifter(data, data, cfg, tmp_path / name, seed=0)
        metrics = evaluate_lifter(result.checkpoint, data, tmp_path / f"eval_{name}", examples=0)
        runs.append((torch.load(result.checkpoint, weights_only=False)["model"], metrics))
    (weights_a, metrics_a), (weights_b, metrics_b) = runs
    for key in weights_a:
        assert torch.equal(weights_a[key], weights_b[key]), key
    assert metrics_a == metrics_b
    other = train_lifter(data, data, dataclasses.replace(cfg), tmp_path / "c", seed=1)
    assert not torch.equal(
        torch.load(other.checkpoint, weights_only=False)["model"]["stem.linear.weight"],
        weights_a["stem.linear.weight"],
    )  # the seed matters, so the equality above is not vacuous
