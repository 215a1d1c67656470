"""Training and checkpointing of the 2D-to-3D lifter (models.lifter.Lifter).

`train_lifter` standardises the data with training-set statistics, trains with Adam and a
decaying learning rate (each epoch on a fresh body augmentation of part of the rows, see
pose3d.augment and ``train_lifter.augment``), and after every epoch writes (atomically) to
``out_dir``:
- ``checkpoint.pt``: model, optimiser, scheduler, epoch, RNG state, the model and training
  configs and the normalisation statistics; a rerun with the same configuration, training code
  (`TRAINING_CODE`) and training rows resumes from it, anything else trains from scratch;
- ``history.csv``: one row per epoch (epoch, lr, train_loss, val_mpjpe_p1_mm, train_seconds,
  samples_per_s), the curves for ``dvc plots``.
`tasks.lifter_inference` rebuilds the model from a checkpoint alone and predicts with it.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
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
from pose3d.io import atomic_path, write_text_atomic
from pose3d.lifting import LiftingDataset, concat, flip_lr_dataset
from pose3d.metrics import mpjpe
from pose3d.normalization import (
    NormStats,
    compute_stats,
    normalize_2d,
    normalize_3d,
)
from tasks._prefect import logger, progress, stage_task
from tasks.lifter_inference import LoadedLifter, predict_lifter

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.csv"
HISTORY_FIELDS = ("epoch", "lr", "train_loss", "val_mpjpe_p1_mm", "train_seconds", "samples_per_s")
LOSSES = ("mse", "l1", "mpjpe")
SCHEDULES = ("exponential", "cosine", "onecycle")


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    history: list[dict[str, float]]
    epochs_run: int  # epochs trained by this call (0 when the checkpoint was already complete)
    train_seconds: float  # time in training steps during this call
    samples_per_s: float  # training samples per second during this call
    step_gflops: float  # achieved matmul GFLOP/s of the training step (3x forward FLOPs)


def _check_train_config(cfg: TrainLifterConfig) -> None:
    if cfg.loss not in LOSSES:
        raise ValueError(f"train_lifter.loss {cfg.loss!r}: expected one of {LOSSES}")
    if cfg.lr_schedule not in SCHEDULES:
        raise ValueError(
            f"train_lifter.lr_schedule {cfg.lr_schedule!r}: expected one of {SCHEDULES}"
        )
    if cfg.epochs < 1 or cfg.batch_size < 2:
        raise ValueError("train_lifter.epochs must be >= 1 and train_lifter.batch_size >= 2")


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


def _training_set(train: LiftingDataset, cfg: TrainLifterConfig) -> _TrainingSet:
    if len(train) == 0:
        raise ValueError("the training split is empty: no rows for the training subjects")
    if cfg.augment.probability > 0 and train.geometry is None:
        raise ValueError(
            "train_lifter.augment.probability > 0 needs the view geometry of the training rows "
            "(the dataset's cameras.h5); set it to 0 for data without cameras"
        )
    if train.num_joints != cfg.model.num_joints:
        raise ValueError(
            f"training data has {train.num_joints} joints, model.num_joints is {cfg.model.num_joints}"
        )
    if cfg.flip_train:
        train = concat([train, flip_lr_dataset(train)])
    stats = compute_stats(
        train.kp2d_px, train.image_wh_px, train.pose3d_cam_mm, cfg.norm_2d, cfg.model.input_joints
    )
    x = torch.from_numpy(normalize_2d(train.kp2d_px, train.image_wh_px, stats))
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
    x[index] = torch.from_numpy(normalize_2d(kp, rows.image_wh_px, data.stats))
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


# The modules whose code decides what training computes; other code means no resuming.
TRAINING_CODE = (
    __name__, "models.lifter", "pose3d.augment", "pose3d.normalization", "pose3d.lifting",
    "pose3d.camera", "pose3d.skeleton",
)  # fmt: skip


def _code_hash() -> str:
    digest = hashlib.sha256()
    for name in TRAINING_CODE:
        digest.update(Path(str(importlib.import_module(name).__file__)).read_bytes())
    return digest.hexdigest()[:16]


def _data_hash(rows: LiftingDataset) -> str:
    digest = hashlib.sha256()
    for array in (rows.kp2d_px, rows.pose3d_cam_mm, rows.geometry):
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def _fingerprint(cfg: TrainLifterConfig, seed: int, rows: LiftingDataset) -> dict[str, Any]:
    """What decides a training run: a checkpoint is resumed only when all of it matches."""
    return {"train_lifter": to_dict(cfg), "seed": seed, "code": _code_hash(),
            "data": _data_hash(rows)}  # fmt: skip


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def _write_history(path: Path, history: list[dict[str, float]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HISTORY_FIELDS)
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(path, out.getvalue())


def _resume_state(path: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint:
        logger().warning("%s: made with another configuration or code; training from scratch", path)
        return None
    return state


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
    _check_train_config(cfg)
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
    fingerprint = _fingerprint(cfg, seed, data.rows)
    history: list[dict[str, float]] = []
    start = 0
    state = _resume_state(out_dir / CHECKPOINT, fingerprint)
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
        _save_checkpoint(out_dir / CHECKPOINT, {
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "rng": torch.get_rng_state(), "epoch": epoch + 1,
            "model_config": to_dict(cfg.model), "stats": stats.to_dict(),
            "fingerprint": fingerprint, "history": history,
        })  # fmt: skip
        _write_history(out_dir / HISTORY, history)
    if start >= cfg.epochs:  # complete already: restore the curves (DVC deletes them before a run)
        _write_history(out_dir / HISTORY, history)
    rate = samples / seconds if seconds else 0.0
    flops = 3 * model.matmul_flops_per_sample() * rate / 1e9
    return TrainResult(out_dir / CHECKPOINT, history, cfg.epochs - start, seconds, rate, flops)


def _validate(
    model: Lifter, stats: NormStats, val: LiftingDataset | None, flip_test: bool
) -> float:
    if val is None or len(val) == 0:
        return float("nan")
    lifter = LoadedLifter(model, stats, {})
    pred = predict_lifter(lifter, val.kp2d_px, val.image_wh_px, val.principal_px, flip_test)
    return mpjpe(pred, val.pose3d_cam_mm, "root")


train_lifter_task = stage_task(train_lifter)
