"""Training and checkpointing of the 2D-to-3D lifter (models.lifter.Lifter).

`train_lifter` standardises the data with training-set statistics, trains with Adam and a
decaying learning rate (each epoch on a fresh body augmentation of part of the rows, see
pose3d.augment and ``train_lifter.augment``). After every epoch it re-estimates the batch norm
statistics without dropout (``train_lifter.bn_recalibration_batches``), validates, and writes
(atomically) to ``out_dir``:
- ``checkpoint.pt``: model, optimiser, scheduler, epoch, RNG state, the model and training
  configs and the normalisation statistics; a rerun with the same configuration, training code
  and training rows resumes from it, anything else trains from scratch (`tasks.lifter_checkpoint`);
- ``history.csv``: one row per epoch (epoch, lr, train_loss, val_mpjpe_p1_mm, train_seconds,
  samples_per_s), the curves for ``dvc plots``.
`tasks.lifter_inference` rebuilds the model from a checkpoint alone and predicts with it.
"""

from __future__ import annotations

import ctypes
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from models.lifter import Lifter, bfloat16_is_native
from pose3d.config import LifterConfig, TrainLifterConfig, to_dict
from pose3d.lifting import LiftingDataset
from pose3d.metrics import mpjpe
from pose3d.normalization import NormStats
from tasks._prefect import logger, stage_task
from tasks.lifter_checkpoint import (
    CHECKPOINT,
    HISTORY,
    HISTORY_FIELDS,
    fingerprint,
    resume_state,
    save_checkpoint,
    write_history,
)
from tasks.lifter_epoch import (
    epoch_arrays,
    loss_function,
    recalibrate_batch_norm,
    train_epoch,
    training_set,
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


def _reuse_freed_memory() -> None:
    """Ask glibc's malloc to keep freed blocks of up to 32 MiB for reuse (process-wide).

    By default glibc serves blocks above a dynamic threshold with fresh mmap'ed pages and gives
    them back when freed, so every training step paid for some 200-900 page faults on its 4 MiB
    weight-sized temporaries (casts, gradients): 10-15% of the step on this 2-core machine.
    Other platforms and C libraries are left as they are.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 << 20)  # glibc's largest; bigger blocks stay mmap'ed
    mallopt(m_trim_threshold, 1 << 30)  # keep up to 1 GiB of freed heap before trimming


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
    _reuse_freed_memory()
    out_dir = Path(out_dir)
    data = training_set(train, cfg)
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
    criterion = loss_function(cfg, stats)
    seconds, samples = 0.0, 0
    for epoch in range(start, cfg.epochs):
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        lr = opt.param_groups[0]["lr"]
        arrays = epoch_arrays(data, cfg, seed, epoch)
        desc = f"epoch {epoch + 1}/{cfg.epochs}"
        loss, sec, n = train_epoch(model, opt, sched, arrays, criterion, cfg.batch_size, gen, desc)
        seconds, samples = seconds + sec, samples + n
        recalibrate_batch_norm(model, arrays[0], cfg.bn_recalibration_batches, cfg.batch_size, gen)
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
