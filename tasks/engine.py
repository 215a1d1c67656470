"""What every training stage shares: device, seeding, runtime settings, one checkpoint format with
one resume rule, one fit loop (`fit`: resume, epochs, checkpoint and history after each), the
optimiser steps of an epoch (`train_one_epoch`), and the history for ``dvc plots``. A trainer
(the detector, the CPN, the lifter) keeps only what is its own: its model, loss, data and metric.

Checkpoint format (a dict saved by ``torch.save``, written atomically): ``model``,
``optimizer``, ``scheduler`` (state dicts), ``epoch`` (epochs done), ``config`` (the model's
config, enough to rebuild it), ``fingerprint`` (what decides the run: the stage's config, the
seed, the digest of its code and of its training rows), ``history`` (one dict per epoch),
``rng`` (torch's CPU generator) and any stage-specific ``extra`` entries. Tensors are saved on
the CPU, so a checkpoint loads on either device.

Resume rule: a rerun resumes a checkpoint only when its fingerprint equals the new run's; one
made by other code, config, seed or rows is trained over from scratch, and one that cannot be
read (truncated, not a checkpoint) is set aside as ``<name>.unreadable`` with a warning.
"""

from __future__ import annotations

import csv
import ctypes
import hashlib
import io
import math
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pose3d.io import CHECKPOINT, HISTORY, atomic_path, write_text_atomic
from tasks._prefect import logger, progress
from tasks.provenance import code_digest

UNREADABLE_SUFFIX = ".unreadable"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or is not of the expected kind."""


def select_device(name: str) -> torch.device:
    """``params.device``: "auto" is cuda when torch sees a GPU, else cpu. Raises ValueError for
    "cuda" on a machine without one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda was asked for, but torch sees no CUDA device")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device: expected auto | cpu | cuda, got {name!r}")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """The one place a training stage seeds torch (CPU and CUDA) before building a model."""
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch `epoch` (0-based) of a run seeded `seed`: its shuffling and draws, the
    same in a resumed run as in an uninterrupted one."""
    return seed * 100_003 + epoch


def reuse_freed_memory() -> None:
    """Ask glibc's malloc to keep freed blocks of up to 32 MiB for reuse (process-wide).

    By default glibc serves blocks above a dynamic threshold with fresh mmap'ed pages and gives
    them back when freed, so every training step paid for some 200-900 page faults on its 4 MiB
    weight-sized temporaries (casts, gradients): 10-15% of the lifter's step on 2 cores.
    Other platforms and C libraries are left as they are.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 << 20)  # glibc's largest; bigger blocks stay mmap'ed
    mallopt(m_trim_threshold, 1 << 30)  # keep up to 1 GiB of freed heap before trimming


def array_digest(arrays: Sequence[np.ndarray | None]) -> str:
    """A short hash of the bytes of `arrays` (None skipped): the training rows of a run."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def fingerprint(
    config: Mapping[str, Any], seed: int, code_module: str, data: str
) -> dict[str, Any]:
    """What decides a training run; a checkpoint is resumed only when all of it matches."""
    return {"config": dict(config), "seed": seed, "code": code_digest(code_module)[:16],
            "data": data}  # fmt: skip


def save_checkpoint(path: Path, state: Mapping[str, Any]) -> None:
    """Write a checkpoint atomically (a crash never leaves a half-written file)."""
    buf = io.BytesIO()
    torch.save(dict(state), buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def checkpoint_kind(state: Mapping[str, Any]) -> str:
    """The trainer that wrote `state`: its ``kind`` entry, or for a checkpoint written before
    there was one, what its entries say ("" when they say nothing)."""
    if "kind" in state:
        return str(state["kind"])
    extra, config = state.get("extra"), state.get("config")
    if "stats" in state:
        return "lifter"
    if isinstance(extra, Mapping) and "margin" in extra:
        return "cpn"
    if isinstance(config, Mapping) and "detector" in config:
        return "detector"
    return ""


def load_checkpoint(
    path: str | Path, required: Sequence[str] = ("model", "config"), kind: str = ""
) -> dict:
    """Read a checkpoint onto the CPU. Raises FileNotFoundError when it is missing and
    CheckpointError naming the file when it cannot be read, was written by another trainer
    than `kind` (where given; the message names both) or lacks a `required` entry."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        size = path.stat().st_size
        raise CheckpointError(
            f"{path}: unreadable checkpoint ({size} bytes; truncated or not a torch file: "
            f"{type(err).__name__}: {err})"
        ) from err
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a pose3d checkpoint (a {type(state).__name__})")
    found = checkpoint_kind(state)
    if kind and found and found != kind:
        raise CheckpointError(f"{path}: a {found} checkpoint, where a {kind} checkpoint is needed")
    for key in required:
        if key not in state:
            raise CheckpointError(f"{path}: not a pose3d checkpoint of this kind (no {key!r})")
    return state


def resume_state(path: Path, fingerprint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The checkpoint to resume from, or None to train from scratch (the resume rule above)."""
    if not path.is_file():
        return None
    try:
        state = load_checkpoint(path, ("model", "optimizer", "scheduler", "epoch"))
    except CheckpointError as err:
        aside = path.with_name(path.name + UNREADABLE_SUFFIX)
        path.replace(aside)
        logger().warning("%s; set aside as %s, training from scratch", err, aside)
        return None
    if state.get("fingerprint") != dict(fingerprint):
        logger().warning("%s: made with another configuration or code; training from scratch", path)
        return None
    return state


def carry_over(previous: Path, checkpoint: Path) -> None:
    """Start a training that is built aside from the `previous` run's checkpoint (copied, so the
    previous outputs stay whole) when there is none at `checkpoint` yet; the resume rule then
    decides whether it is resumed."""
    if checkpoint.is_file() or not previous.is_file():
        return
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(checkpoint) as tmp:
        shutil.copyfile(previous, tmp)


def warmup_cosine(step: int, total_steps: int, warmup_fraction: float = 0.05) -> float:
    """Learning-rate multiplier at optimiser step `step` (0-based) of `total_steps`: linear
    warm-up over the first `warmup_fraction` of the steps (at least one), then cosine decay to 0."""
    warmup = max(1, int(warmup_fraction * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, total_steps - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def restore_training(
    state: Mapping[str, Any], model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any,
    path: Path, epochs: int,
) -> tuple[list[dict[str, float]], int]:  # fmt: skip
    """Load a checkpoint chosen by `resume_state` into the model, optimiser, scheduler (and
    torch's generator, where saved); returns (history, epochs done) and logs the resume."""
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    if "rng" in state:
        torch.set_rng_state(state["rng"])
    history, start = list(state["history"]), int(state["epoch"])
    if start >= epochs:
        logger().info("%s: complete (%d epochs), nothing to train", path, start)
    else:
        logger().info("resuming %s at epoch %d/%d", path, start + 1, epochs)
    return history, start


def write_history(
    path: Path, history: Sequence[Mapping[str, float]], fields: Sequence[str]
) -> None:
    """One row per epoch, the curves for ``dvc plots``; written atomically."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields))
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(path, out.getvalue())


@dataclass(frozen=True)
class EpochStats:
    loss: float  # mean training loss over the epoch's steps
    seconds: float  # wall time of the steps (loading and augmenting included)
    samples: int  # training samples stepped on


def train_one_epoch(
    model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, batches: Iterable[Any],
    step_loss: Callable[[Any], tuple[torch.Tensor, int]], n_batches: int, desc: str,
    grad_clip: float | None = None, after_step: Callable[[], None] | None = None,
) -> EpochStats:  # fmt: skip
    """One pass of optimiser steps: for each batch, ``step_loss(batch)`` gives (loss, samples);
    gradients are clipped to norm `grad_clip` where given, `after_step` runs after each optimiser
    step (a weight constraint), and the scheduler steps per batch. The loss is summed on the
    device, so a GPU is not synchronised per step."""
    model.train()
    total: torch.Tensor | None = None
    steps, samples = 0, 0
    t0 = time.perf_counter()
    for batch in progress(batches, total=n_batches, desc=desc, every=0.25):
        loss, n = step_loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        if after_step is not None:
            after_step()
        sched.step()
        detached = loss.detach().double()
        total = detached if total is None else total + detached
        steps, samples = steps + 1, samples + n
    mean = float(total) / steps if total is not None else 0.0  # one synchronisation per epoch
    return EpochStats(mean, time.perf_counter() - t0, samples)


def tensor_batches(
    data: tuple[torch.Tensor, torch.Tensor], batch_size: int, gen: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled batches of (x, y) rows already on the device; the last partial batch is dropped
    (batch norm)."""
    x, y = data
    perm = torch.randperm(len(x), generator=gen).to(x.device)
    for b in range(len(x) // batch_size):
        idx = perm[b * batch_size : (b + 1) * batch_size]
        yield x[idx], y[idx]


@dataclass
class Training:
    """A model with its optimiser and scheduler, and what a checkpoint of it must say: where it
    goes, the run's `fingerprint`, its epochs and history columns, and the trainer's own entries
    (``config``, and what inference must repeat: normalisation statistics, ``extra``)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    out_dir: Path
    fingerprint: dict[str, Any]
    epochs: int
    history_fields: Sequence[str]
    entries: dict[str, Any] = field(default_factory=dict)
    kind: str = ""  # the trainer ("detector", "cpn", "lifter"), saved as the checkpoint's ``kind``

    @property
    def checkpoint(self) -> Path:
        return self.out_dir / CHECKPOINT


@dataclass(frozen=True)
class FitResult:
    checkpoint: Path
    history: list[dict[str, float]]
    epochs_run: int  # epochs trained by this call (0 when the checkpoint was already complete)
    train_seconds: float  # time in training steps during this call
    samples: int  # training samples stepped on during this call

    @property
    def samples_per_s(self) -> float:
        """Training samples per second during this call (0 when nothing was trained)."""
        return self.samples / self.train_seconds if self.train_seconds else 0.0


def fit(
    training: Training, run_epoch: Callable[[int], dict[str, float]],
    describe: Callable[[dict[str, float]], str],
) -> FitResult:  # fmt: skip
    """The fit loop of every trainer: resume the checkpoint when its fingerprint matches (the
    resume rule above), then for each remaining epoch ``run_epoch(epoch)`` (0-based), which
    trains and measures and returns the epoch's history row (``train_seconds`` and ``samples``
    among its keys; ``epoch`` and ``lr`` are added here), logged with `describe`; after each
    epoch the checkpoint and ``history.csv`` are written atomically. Returns the history."""
    t = training
    history: list[dict[str, float]] = []
    start = 0
    state = resume_state(t.checkpoint, t.fingerprint)
    if state is not None:
        history, start = restore_training(
            state, t.model, t.optimizer, t.scheduler, t.checkpoint, t.epochs
        )
    seconds, samples = 0.0, 0
    for epoch in range(start, t.epochs):
        lr = t.optimizer.param_groups[0]["lr"]
        row = run_epoch(epoch)
        seconds, samples = seconds + row["train_seconds"], samples + int(row.pop("samples"))
        history.append({"epoch": epoch + 1, "lr": lr, **row})
        logger().info("epoch %d/%d: %s", epoch + 1, t.epochs, describe(row))
        save_checkpoint(t.checkpoint, {
            "model": {k: v.detach().cpu().contiguous() for k, v in t.model.state_dict().items()},
            "optimizer": t.optimizer.state_dict(), "scheduler": t.scheduler.state_dict(),
            "rng": torch.get_rng_state(), "epoch": epoch + 1, "fingerprint": t.fingerprint,
            "history": history, "kind": t.kind, **t.entries,
        })  # fmt: skip
        write_history(t.out_dir / HISTORY, history, t.history_fields)
    if start >= t.epochs:  # complete already: restore the curves (DVC deletes them before a run)
        write_history(t.out_dir / HISTORY, history, t.history_fields)
    return FitResult(t.checkpoint, history, t.epochs - start, seconds, samples)


def recalibrate_batch_norm(
    model: torch.nn.Module, x: torch.Tensor, batches: int, batch_size: int, gen: torch.Generator
) -> None:
    """Re-estimate every batch norm's running mean and variance over `batches` random batches of
    `x` with dropout off (an exact average, not a moving one); the weights are not touched.

    In training a layer's batch norm sees its input through the previous layer's dropout, whose
    noise inflates the variances; at test time there is no dropout, so the running statistics of
    training standardise with too large a variance (the "variance shift" of Li et al., CVPR 2019).
    Batch norm in training mode uses the batch's own statistics, so training is unchanged.
    """
    norms = [
        m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))
    ]
    n = min(batches, len(x) // batch_size)
    if not norms or n == 0:
        return
    model.eval()  # no dropout
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
        m.train()
    idx = torch.randperm(len(x), generator=gen)[: n * batch_size].to(x.device)
    with torch.no_grad():
        for b in range(n):
            model(x[idx[b * batch_size : (b + 1) * batch_size]])
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.eval()
