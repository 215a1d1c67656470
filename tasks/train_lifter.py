"""The `train_lifter` stage: train the residual-MLP lifter (models.lifter.Lifter) on the `lifting`
stage's training rows, validating each epoch on its test rows.

The data are standardised with training-set statistics (mirrored copies included with
``flip_train``); each epoch a fresh body augmentation replaces part of the rows
(`pose3d.lifting.augment`); training runs Adam with a warm-up and a decaying learning rate. After
every epoch the batch norm statistics are re-estimated without dropout
(``train_lifter.bn_recalibration_batches``), the test rows are scored, and ``out_dir`` gets
(atomically, `tasks.engine`'s checkpoint format and resume rule):
- ``checkpoint.pt``: model, optimiser, scheduler, epoch, model config, normalisation statistics
  and, for inference, the flip test; a rerun with the same configuration, code and rows resumes;
- ``history.csv``: one row per epoch (`HISTORY_FIELDS`), the curves for ``dvc plots``;
- ``curves.png``: the same curves as a figure.
Rows without a camera (the challenge gives none) have no view geometry: where no training row has
one, the floor input and the body augmentation are turned off, and the log says so.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.lifter import Lifter
from models.losses import lifter_loss
from models.precision import bfloat16_is_native
from pose3d.config import TrainLifterConfig, to_dict
from pose3d.lifting.augment import augment_rows
from pose3d.lifting.dataset import LiftingDataset, concat
from pose3d.lifting.mirror import flip_lr_dataset
from pose3d.lifting.normalization import (
    NormStats,
    compute_stats,
    doubtful_as_missing,
    normalize_2d,
    normalize_3d,
)
from pose3d.metrics import mpjpe
from pose3d.plots import curves_figure, save_figure
from tasks import engine
from tasks._prefect import logger, stage_task, warn_once
from tasks.lifter.inference import LoadedLifter, predict_dataset

CURVES = "curves.png"
HISTORY_FIELDS = ("epoch", "lr", "train_loss", "val_mpjpe_p1_mm", "train_seconds", "samples_per_s")


@dataclass(frozen=True)
class TrainingSet:
    rows: LiftingDataset  # the training rows, mirrored copies included
    x: torch.Tensor  # standardised 2D (N, D_in)
    y: torch.Tensor  # standardised 3D (N, D_out)
    stats: NormStats


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


def effective_config(train: LiftingDataset, cfg: TrainLifterConfig) -> TrainLifterConfig:
    """`cfg` as the rows allow it. Raises ValueError when they cannot train it; turns the floor
    input and the augmentation off (and logs it) when no training row has view geometry."""
    if len(train) == 0:
        raise ValueError("the training split is empty: no rows for the training subjects")
    if train.num_joints != cfg.model.num_joints:
        raise ValueError(
            f"training data has {train.num_joints} joints, model.num_joints is {cfg.model.num_joints}"
        )
    has_view = train.geometry is not None and bool(np.isfinite(train.geometry).all(1).any())
    if has_view or not (cfg.model.floor_input or cfg.augment.probability > 0):
        return cfg
    warn_once(
        "train_lifter: no training row has a camera (view geometry), as on the challenge's own "
        "data: training without the floor input and without the body augmentation"
    )
    return dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, floor_input=False),
        augment=dataclasses.replace(cfg.augment, probability=0.0),
    )


def training_set(train: LiftingDataset, cfg: TrainLifterConfig) -> TrainingSet:
    """The standardised training arrays (mirrored copies included) and their statistics; joints
    scored below ``model.min_score`` are missing, as they will be at inference."""
    kp = doubtful_as_missing(train.kp2d_px, train.scores, cfg.model.min_score)
    train = dataclasses.replace(train, kp2d_px=kp)
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


def drop_joints(x: torch.Tensor, joints: int, p: float, rng: np.random.Generator) -> torch.Tensor:
    """`x` with each of the first `joints` input joints of each row set missing (both standardised
    coordinates 0, the training mean, as a NaN joint is at inference) with probability `p`: the
    lifter learns to place a joint it is not given from the others. Shapes: (N, D_in) -> same."""
    if p <= 0:
        return x
    drop = torch.from_numpy(rng.random((len(x), joints)) < p)
    out = x.clone()
    out[:, : 2 * joints].masked_fill_(drop.repeat_interleave(2, dim=1), 0.0)
    return out


def epoch_arrays(
    data: TrainingSet, cfg: TrainLifterConfig, seed: int, epoch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """This epoch's training arrays: a fresh augmented copy of a `probability` share of the rows
    (pose3d.lifting.augment), then ``joint_dropout``; the same for a given (seed, epoch) so that
    resumed runs match."""
    x, y = _augmented_arrays(data, cfg, seed, epoch)
    joints = len(data.stats.input_joints)
    return drop_joints(x, joints, cfg.joint_dropout, np.random.default_rng([seed, epoch, 11])), y


def _augmented_arrays(
    data: TrainingSet, cfg: TrainLifterConfig, seed: int, epoch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    aug = cfg.augment
    if aug.probability <= 0:
        return data.x, data.y
    rng = np.random.default_rng([seed, epoch, 7])
    picked = np.flatnonzero(rng.random(len(data.rows)) < aug.probability)
    rows = data.rows.take(picked)
    assert rows.geometry is not None
    kp, pose, ok = augment_rows(
        rows.kp2d_px, rows.pose3d_cam_mm, rows.geometry, rng,
        aug.rotate_deg, aug.bone_scale, aug.body_scale, aug.error_resample, aug.error_clean,
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


def train_lifter(
    train: LiftingDataset,
    val: LiftingDataset | None,
    cfg: TrainLifterConfig,
    out_dir: str | Path,
    seed: int,
    device: torch.device | None = None,
) -> engine.FitResult:
    """Train (or resume) a lifter on `train`, validating on `val` (None or empty: no curve).

    Writes ``out_dir/checkpoint.pt`` and ``out_dir/history.csv`` after every epoch. Raises
    ValueError on an empty training split or a joint count other than ``cfg.model.num_joints``.
    """
    device = device or torch.device("cpu")
    cfg = effective_config(train, cfg)
    if cfg.model.matmul_dtype == "bfloat16" and device.type == "cpu" and not bfloat16_is_native():
        logger().warning(
            "train_lifter.model.matmul_dtype=bfloat16 but this CPU has no native bfloat16 "
            "matmul: training will be slower than with float32"
        )
    engine.reuse_freed_memory()
    data = training_set(train, cfg)
    if len(data.x) < cfg.batch_size:
        raise ValueError(
            f"training split has {len(data.x)} rows, fewer than one batch ({cfg.batch_size})"
        )
    engine.seed_everything(seed)
    model = Lifter(cfg.model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    total_steps = cfg.epochs * (len(data.x) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s, total_steps))
    rows_digest = engine.array_digest(
        [data.rows.kp2d_px, data.rows.pose3d_cam_mm, data.rows.geometry]
    )
    entries = {"config": to_dict(cfg.model), "stats": data.stats.to_dict(),
               "extra": {"flip_test": cfg.flip_test}}  # fmt: skip
    run_id = engine.fingerprint(to_dict(cfg), seed, __name__, rows_digest)
    training = engine.Training(
        model, opt, sched, Path(out_dir), run_id, cfg.epochs, HISTORY_FIELDS, entries, "lifter"
    )
    loss_fn = lifter_loss(cfg.loss, data.stats.std_3d, device)

    def run_epoch(epoch: int) -> dict[str, float]:
        gen = torch.Generator().manual_seed(engine.epoch_seed(seed, epoch))
        x, y = (a.to(device) for a in epoch_arrays(data, cfg, seed, epoch))
        stats = engine.train_one_epoch(
            model, opt, sched, engine.tensor_batches((x, y), cfg.batch_size, gen),
            lambda batch: (loss_fn(model(batch[0]), batch[1]), len(batch[0])),
            len(x) // cfg.batch_size, f"epoch {epoch + 1}/{cfg.epochs}",
            after_step=model.max_norm_step_,
        )  # fmt: skip
        engine.recalibrate_batch_norm(model, x, cfg.bn_recalibration_batches, cfg.batch_size, gen)
        return {"train_loss": stats.loss, "samples": stats.samples,
                "val_mpjpe_p1_mm": _validate(LoadedLifter(model, data.stats, cfg.flip_test), val),
                "train_seconds": stats.seconds, "samples_per_s": stats.samples / stats.seconds}  # fmt: skip

    return engine.fit(training, run_epoch, _describe)


def _describe(row: dict[str, float]) -> str:
    """An epoch's log line: the loss, the validation error where there is a validation set."""
    val = row["val_mpjpe_p1_mm"]
    said = f"loss {row['train_loss']:.4f}, "
    said += f"val P1 {val:.1f} mm, " if math.isfinite(val) else "no validation rows, "
    return said + f"{row['samples_per_s']:.0f} samples/s"


def _validate(lifter: LoadedLifter, val: LiftingDataset | None) -> float:
    if val is None or len(val) == 0:
        return float("nan")
    return mpjpe(predict_dataset(lifter, val), val.pose3d_cam_mm, "root")


def train_lifter_stage(
    train: LiftingDataset,
    val: LiftingDataset,
    cfg: TrainLifterConfig,
    out_dir: str | Path,
    seed: int,
    device: torch.device | None = None,
) -> engine.FitResult:
    """The stage: `train_lifter`, then ``curves.png`` from the history."""
    result = train_lifter(train, val, cfg, out_dir, seed, device)
    if result.history:
        save_figure(curves_figure(result.history), Path(out_dir) / CURVES)
    last = result.history[-1] if result.history else {}
    logger().info("train_lifter: %s (last epoch: %s)", result.checkpoint, last)
    return result


train_lifter_task = stage_task(train_lifter_stage)
