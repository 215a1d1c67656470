"""One epoch of lifter training (used by tasks.lifter.train_lifter).

- `training_set`: the standardised training arrays (mirrored copies included) and statistics;
- `epoch_arrays`: an epoch's arrays, a fresh body augmentation of part of the rows;
- `loss_function`, `train_epoch`: the loss and the optimiser steps over one shuffled pass;
- `recalibrate_batch_norm`: batch norm statistics without dropout, after the epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from models.lifter import Lifter
from pose3d.augment import augment_rows
from pose3d.config import TrainLifterConfig
from pose3d.lifting import LiftingDataset, concat, flip_lr_dataset
from pose3d.normalization import NormStats, compute_stats, normalize_2d, normalize_3d
from tasks._prefect import logger, progress


@dataclass(frozen=True)
class TrainingSet:
    rows: LiftingDataset  # the training rows, mirrored copies included
    x: torch.Tensor  # standardised 2D (N, D_in)
    y: torch.Tensor  # standardised 3D (N, D_out)
    stats: NormStats


def check_training_rows(train: LiftingDataset, cfg: TrainLifterConfig) -> None:
    """Raise ValueError when the rows cannot train `cfg`; warn when the floor input is dead."""
    if len(train) == 0:
        raise ValueError("the training split is empty: no rows for the training subjects")
    if cfg.augment.probability > 0 and train.geometry is None:
        raise ValueError(
            "train_lifter.augment.probability > 0 needs the view geometry of the training rows "
            "(the dataset's cameras.h5); set it to 0 for data without cameras"
        )
    if cfg.model.floor_input and train.geometry is None:
        raise ValueError(
            "train_lifter.model.floor_input needs the view geometry of the training rows (the "
            "dataset's cameras.h5); set it to false for data without cameras"
        )
    if train.num_joints != cfg.model.num_joints:
        raise ValueError(
            f"training data has {train.num_joints} joints, model.num_joints is {cfg.model.num_joints}"
        )
    geometry = train.geometry
    if cfg.model.floor_input and geometry is not None and not np.isfinite(geometry).all(1).any():
        logger().warning(
            "train_lifter.model.floor_input: no training row has view geometry (no cameras.h5), "
            "so the floor input is constant and has no effect"
        )


def training_set(train: LiftingDataset, cfg: TrainLifterConfig) -> TrainingSet:
    check_training_rows(train, cfg)
    if cfg.flip_train:
        train = concat([train, flip_lr_dataset(train)])
    geometry = train.geometry if cfg.model.floor_input else None
    stats = compute_stats(
        train.kp2d_px, train.image_wh_px, train.pose3d_cam_mm, cfg.norm_2d,
        cfg.model.input_joints, geometry,
    )  # fmt: skip
    x = torch.from_numpy(normalize_2d(train.kp2d_px, train.image_wh_px, stats, geometry))
    y = torch.from_numpy(normalize_3d(train.pose3d_cam_mm, stats))
    return TrainingSet(train, x, y, stats)


def epoch_arrays(
    data: TrainingSet, cfg: TrainLifterConfig, seed: int, epoch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """This epoch's training arrays: a fresh augmented copy of a `probability` share of the rows
    (pose3d.augment), the same for a given (seed, epoch) so that resumed runs match."""
    aug = cfg.augment
    if aug.probability <= 0:
        return data.x, data.y
    rng = np.random.default_rng([seed, epoch, 7])
    picked = np.flatnonzero(rng.random(len(data.rows)) < aug.probability)
    rows = data.rows.take(picked)
    assert rows.geometry is not None
    kp, pose, ok = augment_rows(
        rows.kp2d_px, rows.pose3d_cam_mm, rows.geometry, rng,
        aug.rotate_deg, aug.bone_scale, aug.body_scale,
    )  # fmt: skip
    if epoch == 0:
        logger().info(
            "augment: %d of %d rows per epoch (%d without usable view geometry kept as they are)",
            int(ok.sum()), len(data.rows), int((~ok).sum()),
        )  # fmt: skip
    index = torch.from_numpy(picked)
    x, y = data.x.clone(), data.y.clone()
    x[index] = torch.from_numpy(normalize_2d(kp, rows.image_wh_px, data.stats, rows.geometry))
    y[index] = torch.from_numpy(normalize_3d(pose, data.stats))
    return x, y


def loss_function(cfg: TrainLifterConfig, stats: NormStats) -> Any:
    std = torch.tensor(stats.std_3d, dtype=torch.float32)
    if cfg.loss == "mse":
        return lambda p, t: torch.mean((p - t) ** 2)
    if cfg.loss == "l1":
        return lambda p, t: torch.mean(torch.abs(p - t))
    return lambda p, t: torch.mean(
        torch.linalg.vector_norm(((p - t) * std).reshape(len(p), -1, 3), dim=-1)
    )


def recalibrate_batch_norm(
    model: Lifter, x: torch.Tensor, batches: int, batch_size: int, gen: torch.Generator
) -> None:
    """Re-estimate every batch norm's running mean and variance over `batches` random batches of
    `x` with dropout off (an exact average, not a moving one); the weights are not touched.

    In training a layer's batch norm sees its input through the previous layer's dropout, whose
    noise inflates the variances; at test time there is no dropout, so the running statistics of
    training standardise with too large a variance (the "variance shift" of Li et al., CVPR 2019).
    Batch norm in training mode uses the batch's own statistics, so training is unchanged.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    n = min(batches, len(x) // batch_size)
    if not norms or n == 0:
        return
    model.eval()  # no dropout
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
        m.train()
    idx = torch.randperm(len(x), generator=gen)[: n * batch_size]
    with torch.no_grad():
        for b in range(n):
            model(x[idx[b * batch_size : (b + 1) * batch_size]])
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.eval()


def train_epoch(
    model: Lifter, opt: torch.optim.Optimizer, sched: Any, data: tuple[torch.Tensor, torch.Tensor],
    loss_fn: Any, batch_size: int, gen: torch.Generator, desc: str,
) -> tuple[float, float, int]:  # fmt: skip
    x, y = data
    model.train()
    perm = torch.randperm(len(x), generator=gen)
    n_batches = len(x) // batch_size  # the last partial batch is dropped (batch norm)
    total, seconds = 0.0, 0.0
    for b in progress(range(n_batches), total=n_batches, desc=desc, every=0.25):
        t0 = time.perf_counter()
        idx = perm[b * batch_size : (b + 1) * batch_size]
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        model.max_norm_step_()
        sched.step()
        seconds += time.perf_counter() - t0
        total += float(loss.detach())
    return total / max(1, n_batches), seconds, n_batches * batch_size
