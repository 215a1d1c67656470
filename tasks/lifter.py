"""Training and checkpointing of the 2D-to-3D lifter (models.lifter.Lifter).

`train_lifter` standardises the data with training-set statistics, trains with Adam and a
decaying learning rate (each epoch on a fresh body augmentation of part of the rows, see
pose3d.augment and ``train_lifter.augment``), and after every epoch writes (atomically) to
``out_dir``:
- ``checkpoint.pt``: model, optimiser, scheduler, epoch, RNG state, the model and training
  configs and the normalisation statistics; a rerun with the same configuration, training code
  and training rows resumes from it, anything else trains from scratch (`tasks.lifter_checkpoint`);
- ``history.csv``: one row per epoch (epoch, lr, train_loss, val_mpjpe_p1_mm, train_seconds,
  samples_per_s), the curves for ``dvc plots``.
`tasks.lifter_inference` rebuilds the model from a checkpoint alone and predicts with it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.lifter import Lifter, bfloat16_is_native
from pose3d.augment import augment_rows
from pose3d.config import LifterConfig, TrainLifterConfig, to_dict
from pose3d.lifting import LiftingDataset, concat, flip_lr_dataset
from pose3d.metrics import mpjpe
from pose3d.normalization import (
    NormStats,
    compute_stats,
    normalize_2d,
    normalize_3d,
)
from tasks._prefect import logger, progress, stage_task
from tasks.lifter_checkpoint import (
    CHECKPOINT,
    HISTORY,
    HISTORY_FIELDS,
    fingerprint,
    resume_state,
    save_checkpoint,
    write_history,
)
from tasks.lifter_inference import LoadedLifter, predict_dataset

__all__ = ["CHECKPOINT", "HISTORY", "HISTORY_FIELDS", "TrainResult", "lr_factor", "train_lifter"]


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    history: list[dict[str, float]]
    epochs_run: int  # epochs trained by this call (0 when the checkpoint was already complete)
    train_seconds: float  # time in training steps during this call
    samples_per_s: float  # training samples per second during this call
    step_gflops: float  # achieved matmul GFLOP/s of the training step (3x forward FLOPs)


def _warn_if_bfloat16_is_emulated(model: LifterConfig) -> None:
    if model.matmul_dtype == "bfloat16" and not bfloat16_is_native():
        logger().warning(
            "train_lifter.model.matmul_dtype=bfloat16 but this CPU has no native bfloat16 "
            "matmul: training will be slower than with float32"
        )


def lr_factor(cfg: TrainLifterConfig, step: int, total_steps: int) -> float:
    """Learning-rate multiplier at optimiser step `step` (0-based) of `total_steps`."""
    if cfg.lr_schedule == "exponential":
        return float(cfg.lr_decay ** (step / cfg.lr_decay_steps))
    warmup = int(cfg.warmup_fraction * total_steps)
    if step < warmup:
        start = 0.04 if cfg.lr_schedule == "onecycle" else 0.0
        return start + (1.0 - start) * (step + 1) / warmup
    t = (step - warmup) / max(1, total_steps - warmup)
    floor = 1e-4 if cfg.lr_schedule == "onecycle" else 0.0
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


@dataclass(frozen=True)
class _TrainingSet:
    rows: LiftingDataset  # the training rows, mirrored copies included
    x: torch.Tensor  # standardised 2D (N, D_in)
    y: torch.Tensor  # standardised 3D (N, D_out)
    stats: NormStats


def _check_training_rows(train: LiftingDataset, cfg: TrainLifterConfig) -> None:
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


def _training_set(train: LiftingDataset, cfg: TrainLifterConfig) -> _TrainingSet:
    _check_training_rows(train, cfg)
    if cfg.flip_train:
        train = concat([train, flip_lr_dataset(train)])
    geometry = train.geometry if cfg.model.floor_input else None
    stats = compute_stats(
        train.kp2d_px, train.image_wh_px, train.pose3d_cam_mm, cfg.norm_2d,
        cfg.model.input_joints, geometry,
    )  # fmt: skip
    x = torch.from_numpy(normalize_2d(train.kp2d_px, train.image_wh_px, stats, geometry))
    y = torch.from_numpy(normalize_3d(train.pose3d_cam_mm, stats))
    return _TrainingSet(train, x, y, stats)


def _epoch_arrays(
    data: _TrainingSet, cfg: TrainLifterConfig, seed: int, epoch: int
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


def _loss_fn(cfg: TrainLifterConfig, stats: NormStats) -> Any:
    std = torch.tensor(stats.std_3d, dtype=torch.float32)
    if cfg.loss == "mse":
        return lambda p, t: torch.mean((p - t) ** 2)
    if cfg.loss == "l1":
        return lambda p, t: torch.mean(torch.abs(p - t))
    return lambda p, t: torch.mean(
        torch.linalg.vector_norm(((p - t) * std).reshape(len(p), -1, 3), dim=-1)
    )


def _train_epoch(
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


def train_lifter(
    train: LiftingDataset,
    val: LiftingDataset | None,
    cfg: TrainLifterConfig,
    out_dir: str | Path,
    seed: int,
) -> TrainResult:
    """Train (or resume) a lifter on `train`, validating on `val` (None or empty: no curve).

    Writes ``out_dir/checkpoint.pt`` and ``out_dir/history.csv`` after every epoch. Raises
    ValueError on an empty training split or a joint count other than ``cfg.model.num_joints``.
    """
    _warn_if_bfloat16_is_emulated(cfg.model)
    out_dir = Path(out_dir)
    data = _training_set(train, cfg)
    stats, n_rows = data.stats, len(data.x)
    if n_rows < cfg.batch_size:
        raise ValueError(
            f"training split has {n_rows} rows, fewer than one batch ({cfg.batch_size})"
        )
    torch.manual_seed(seed)
    model = Lifter(cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    total_steps = cfg.epochs * (n_rows // cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s, total_steps))
    run_id = fingerprint(cfg, seed, data.rows)
    history: list[dict[str, float]] = []
    start = 0
    state = resume_state(out_dir / CHECKPOINT, run_id)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        history, start = list(state["history"]), int(state["epoch"])
        logger().info("resuming %s at epoch %d/%d", out_dir / CHECKPOINT, start + 1, cfg.epochs)
    loss_fn = _loss_fn(cfg, stats)
    seconds, samples = 0.0, 0
    for epoch in range(start, cfg.epochs):
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        lr = opt.param_groups[0]["lr"]
        loss, sec, n = _train_epoch(
            model,
            opt,
            sched,
            _epoch_arrays(data, cfg, seed, epoch),
            loss_fn,
            cfg.batch_size,
            gen,
            f"epoch {epoch + 1}/{cfg.epochs}",
        )
        seconds, samples = seconds + sec, samples + n
        val_mm = _validate(model, stats, val, cfg.flip_test)
        history.append(
            {"epoch": epoch + 1, "lr": lr, "train_loss": loss, "val_mpjpe_p1_mm": val_mm,
             "train_seconds": sec, "samples_per_s": n / sec}
        )  # fmt: skip
        logger().info("epoch %d/%d: loss %.4f, val P1 %.1f mm, %.0f samples/s",
                      epoch + 1, cfg.epochs, loss, val_mm, n / sec)  # fmt: skip
        save_checkpoint(out_dir / CHECKPOINT, {
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "rng": torch.get_rng_state(), "epoch": epoch + 1,
            "model_config": to_dict(cfg.model), "stats": stats.to_dict(),
            "fingerprint": run_id, "history": history,
        })  # fmt: skip
        write_history(out_dir / HISTORY, history)
    if start >= cfg.epochs:  # complete already: restore the curves (DVC deletes them before a run)
        write_history(out_dir / HISTORY, history)
    rate = samples / seconds if seconds else 0.0
    flops = 3 * model.matmul_flops_per_sample() * rate / 1e9
    return TrainResult(out_dir / CHECKPOINT, history, cfg.epochs - start, seconds, rate, flops)


def _validate(
    model: Lifter, stats: NormStats, val: LiftingDataset | None, flip_test: bool
) -> float:
    if val is None or len(val) == 0:
        return float("nan")
    lifter = LoadedLifter(model, stats, {})
    pred = predict_dataset(lifter, val, flip_test)
    return mpjpe(pred, val.pose3d_cam_mm, "root")


train_lifter_task = stage_task(train_lifter)
