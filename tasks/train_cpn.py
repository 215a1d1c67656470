"""The `train_cpn` stage: train the Cascaded Pyramid Network (models.cpn.CPN) through
crop-and-resize on the Human3.6M-layout frames of ``train_cpn.subjects``, then score it on the
frames of ``train_cpn.heldout_subjects`` in the original images.

A training sample (`build_sample`): the ground-truth box -> the square of `pose3d.crop.crop_box`
with ``cr.margin`` -> a random `CropJitter` (shift, rotation, scale) -> the ``input_size`` crop,
the keypoints mapped into it, mirrored half of the time with the left/right joints swapped; targets
are Gaussians (`pose3d.heatmaps.gaussian_heatmaps`) with the GlobalNet levels' sigmas and the
RefineNet's; a joint is visible when finite and inside the crop. Samples are drawn by a
DataLoader (`CropDataset`), each from a generator seeded by (seed, epoch, row): the same for any
number of workers, and for a resumed run. In the training step each crop may get colour jitter
and texture (sharpness and noise) of its own (``train_cpn.colour_jitter``,
``train_cpn.texture_jitter``, `models.photometric`), after shapes pasted over it
(``train_cpn.occlusion``, `models.occlusion`).

Training: the ResNet from random weights, or from an ImageNet ResNet's state dict file
(``train_cpn.backbone_weights``, `tasks.backbone_weights`; loaded when training from scratch, its
sha256 part of the run's fingerprint); AdamW, linear warm-up then cosine decay, channels_last and
bfloat16 autocast where the device has it natively (the losses in float32). After every epoch
``out_dir`` gets, atomically (`tasks.engine`'s checkpoint format and resume rule):
- ``checkpoint.pt``: model, optimiser, scheduler, epoch, the `CPNConfig`, the backbone weights'
  path and sha256 and, for inference, the crop margin, the flip test, bf16, channels_last, and
  how the training frames' label boxes sit around their keypoints (`pose3d.crop.KeypointSquare`,
  for the route's refine passes) (`tasks.route.cpn.load_cpn`);
- ``history.csv``: one row per epoch (`HISTORY_FIELDS`); ``val_px_error`` is the mean pixel
  error on an even sample of up to `HISTORY_VAL_IMAGES` held-out frames, without flip test, and
  ``val_left_right_ratio``, ``val_swap_share`` say whether it tells left limbs from right ones
  yet (`pose3d.metrics`): the learning curve of the 2D budget.
After training: ``metrics.json`` (held-out pixel error, PCK at 5% / 10% of the box's longest
side (``pck5_box``, ``pck10_box``), left-right ratio and swap share, the latter also for the
people seen from the front, side and back (``swap_share_front``, ``_side``, ``_back``, where the
frames have 3D labels), train seconds, ...), ``per_joint.csv`` and ``keypoints.png``
(held-out crops, truth and prediction), on all held-out frames cropped with their ground-truth
boxes, no jitter.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from models.cpn import CPN, CPNConfig, backbone_key, is_backbone
from models.cpn_loss import cpn_loss
from models.occlusion import Occlusion, paste_occluders
from models.photometric import ColourJitter, TextureJitter, jitter_colours, jitter_texture
from models.precision import autocast, use_bf16
from pose3d.config import TrainCPNConfig, to_dict
from pose3d.crop import (
    NO_JITTER,
    CropJitter,
    crop_box,
    crop_image,
    crop_transform,
    fit_keypoint_square,
    from_crop,
    sample_jitter,
    to_crop,
)
from pose3d.frames import check_unseen_subjects
from pose3d.heatmaps import gaussian_heatmaps
from pose3d.io import write_metrics, write_text_atomic
from pose3d.metrics import (
    box_side,
    keypoint_distances,
    left_right_ratio,
    pck,
    swap_share,
    swap_share_by_facing,
)
from pose3d.plots import save_figure
from pose3d.skeleton import H36M17_JOINTS, H36M17_PARENTS, flip_lr
from tasks import backbone_weights, engine
from tasks._prefect import logger, stage_task
from tasks.route.cpn import LoadedCPN, predict_crops, standardize, unit_images
from tasks.route.frames import Frames2D, load_frames_2d, read_rgb

HEADLINE = (
    "heldout_px_error",
    "heldout_pck10_box",
    "heldout_left_right_ratio",
    "heldout_swap_share",
    "heldout_swap_share_back",
)  # metrics.json; everything: scores.json
PER_JOINT = "per_joint.csv"
KEYPOINTS_PNG = "keypoints.png"
HISTORY_FIELDS = ("epoch", "lr", "train_loss", "val_px_error", "val_left_right_ratio",
                  "val_swap_share", "train_seconds", "samples_per_s")  # fmt: skip
HISTORY_VAL_IMAGES = 96  # held-out frames scored after each epoch (all of them at the end)
WARMUP_FRACTION = 0.05
PCK_FRACTIONS = (0.05, 0.10)
# DataLoader workers decoding and cropping beside the training step. 0: decoding is ~1.4 ms of
# the ~31 ms a crop costs on one thread, and a forked worker died under Prefect at the end of an
# epoch (exit code 1, no traceback)
LOADER_WORKERS = 0


@dataclass(frozen=True)
class Sample:
    """One training crop. Shapes: crop (S, S, 3) uint8; kp_crop_px (J, 2) (NaN = missing);
    visible (J,) bool; affine (2, 3): image px -> crop px, the mirror included (so
    ``from_crop(kp_crop_px, affine)`` is the image keypoints, left/right swapped when flipped)."""

    crop: np.ndarray
    kp_crop_px: np.ndarray
    visible: np.ndarray
    affine: np.ndarray
    flipped: bool


@dataclass(frozen=True)
class TrainResult(engine.FitResult):
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)  # the held-out scores


def cpn_config(cfg: TrainCPNConfig) -> CPNConfig:
    """The network that `train_cpn` builds."""
    return CPNConfig(backbone=cfg.backbone, input_size=cfg.input_size, channels=cfg.channels)


def mirror_affine(affine: np.ndarray, size: int) -> np.ndarray:
    """`affine` followed by the crop's left-right mirror ``x -> size - 1 - x``."""
    out = np.array(affine, dtype=np.float64)
    out[0] = -out[0]
    out[0, 2] += size - 1
    return out


def build_sample(
    image: np.ndarray,
    box_xyxy_px: np.ndarray,
    kp2d_px: np.ndarray,
    size: int,
    margin: float,
    jitter: CropJitter = NO_JITTER,
    flip: bool = False,
) -> Sample:
    """The crop of a labelled image: the box's square (`crop_box`), jittered, resampled to
    ``size x size``, mirrored when `flip` (keypoints' left/right labels swapped).

    Shapes: image (H, W, 3) uint8, box_xyxy_px (4,), kp2d_px (J, 2) px -> `Sample`.
    """
    square = crop_box(box_xyxy_px, margin)
    affine = crop_transform(square, size, jitter)
    crop = crop_image(image, square, size, jitter)
    if flip:
        affine = mirror_affine(affine, size)
        crop = np.ascontiguousarray(crop[:, ::-1])
    kp = to_crop(np.asarray(kp2d_px, dtype=np.float64), affine)
    if flip:
        kp = flip_lr(kp)
    finite = np.all(np.isfinite(kp), axis=-1)
    with np.errstate(invalid="ignore"):
        inside = np.all((kp >= -0.5) & (kp <= size - 0.5), axis=-1)
    return Sample(crop, kp, finite & inside, affine, flip)


def sample_targets(sample: Sample, cfg: CPNConfig) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian targets of a sample. Shapes: -> (global (L, J, H, W), refine (J, H, W)) float32."""
    kp = np.where(sample.visible[:, None], sample.kp_crop_px, 0.0)
    global_maps = np.stack([
        gaussian_heatmaps(kp, sample.visible, cfg.input_size, cfg.heatmap_stride, sigma)
        for sigma in cfg.global_sigmas
    ])  # fmt: skip
    refine = gaussian_heatmaps(
        kp, sample.visible, cfg.input_size, cfg.heatmap_stride, cfg.refine_sigma
    )
    return global_maps, refine


class CropDataset(Dataset[tuple[torch.Tensor, ...]]):
    """Training crops with their targets, drawn afresh each epoch (`set_epoch`).

    Item: (crop (S, S, 3) uint8, global targets (L, J, H, W), refine targets (J, H, W),
    visible (J,) bool).
    """

    def __init__(
        self, frames: Frames2D, cfg: TrainCPNConfig, net: CPNConfig, margin: float, seed: int
    ) -> None:
        self.frames, self.cfg, self.net, self.margin, self.seed = frames, cfg, net, margin, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.frames)

    def sample(self, index: int) -> Sample:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        jitter = sample_jitter(rng, self.cfg.rotate_deg, self.cfg.log2_scale, self.cfg.shift)
        flip = bool(self.cfg.flip and rng.random() < 0.5)
        image = read_rgb(self.frames.image_path[index])
        return build_sample(
            image, self.frames.box_xyxy_px[index], self.frames.kp2d_px[index],
            self.net.input_size, self.margin, jitter, flip,
        )  # fmt: skip

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        sample = self.sample(index)
        global_maps, refine = sample_targets(sample, self.net)
        return (
            torch.from_numpy(sample.crop), torch.from_numpy(global_maps),
            torch.from_numpy(refine), torch.from_numpy(sample.visible),
        )  # fmt: skip


def keypoint_errors(
    pred_px: np.ndarray, truth_px: np.ndarray, box_xyxy_px: np.ndarray,
    facing: np.ndarray | None = None,
) -> tuple[dict[str, float], np.ndarray]:  # fmt: skip
    """Pixel error and PCK of predicted keypoints over the joints with finite truth (a missing
    prediction counts as a miss): ``pck5_box``, ``pck10_box`` divide by the box's longest side
    (`pose3d.metrics`). Shapes: pred_px (N, J, 2), truth_px (N, J, 2), box_xyxy_px (N, 4) ->
    ({"px_error", "pck5_box", "pck10_box", "left_right_ratio", "swap_share", "joints"},
    per-joint pixel error (J,), NaN for a joint never labelled). The last two say whether left
    and right limbs are told apart (`pose3d.metrics.left_right_ratio`, `swap_share`); with
    `facing` (N,) (`pose3d.metrics.facing_camera`), ``swap_share_front``, ``_side`` and
    ``_back`` say whether it reads left from right in people seen from behind as well."""
    dist = keypoint_distances(pred_px, truth_px)
    boxes = np.asarray(box_xyxy_px, np.float64)
    if boxes.shape != (len(dist), 4):
        raise ValueError(f"boxes {boxes.shape}: expected ({len(dist)}, 4)")
    labelled = ~np.isnan(dist)
    n = int(labelled.sum())
    finite_err = np.where(labelled, dist, 0.0)
    metrics: dict[str, float] = {"joints": float(n)}
    metrics["px_error"] = float(finite_err.sum() / n) if n else float("nan")
    for fraction in PCK_FRACTIONS:
        metrics[f"pck{round(fraction * 100)}_box"] = pck(dist, box_side(boxes), fraction)
    metrics["left_right_ratio"] = left_right_ratio(pred_px, truth_px)
    metrics["swap_share"] = swap_share(pred_px, truth_px)
    if facing is not None and np.isfinite(facing).any():
        by_facing = swap_share_by_facing(pred_px, truth_px, facing)
        metrics.update({f"swap_share_{name}": value for name, value in by_facing.items()})
    counts = labelled.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(counts > 0, finite_err.sum(axis=0) / counts, np.nan)
    return metrics, per_joint


def eval_crops(frames: Frames2D, size: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The ground-truth-box crops of `frames`, no jitter. Shapes: -> ((N, S, S, 3) uint8,
    affines (N, 2, 3))."""
    crops = np.zeros((len(frames), size, size, 3), np.uint8)
    affines = np.zeros((len(frames), 2, 3))
    for i in range(len(frames)):
        square = crop_box(frames.box_xyxy_px[i], margin)
        crops[i] = crop_image(read_rgb(frames.image_path[i]), square, size)
        affines[i] = crop_transform(square, size)
    return crops, affines


def predict_frames(
    cpn: LoadedCPN, frames: Frames2D, flip_test: bool | None = None, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CR with the ground-truth boxes, `predict_crops`, ICR. Shapes: -> (kp image px (N, J, 2),
    scores (N, J), crops (N, S, S, 3) uint8)."""
    crops, affines = eval_crops(frames, cpn.input_size, cpn.margin)
    kp_crop, scores = predict_crops(cpn, crops, batch_size, flip_test)
    return from_crop(kp_crop, affines), scores, crops


def _step_loss(
    model: CPN, net: CPNConfig, cfg: TrainCPNConfig, device: torch.device, gen: torch.Generator
) -> Any:
    """(loss, samples) of one batch of `CropDataset` items, occluded, their colours and texture
    jittered per crop (``cfg.occlusion``, ``cfg.colour_jitter``, ``cfg.texture_jitter``, drawn
    from `gen`)."""
    jitter = ColourJitter(*cfg.colour_jitter)
    texture = TextureJitter(*cfg.texture_jitter)
    occlusion = Occlusion(*cfg.occlusion)

    def step_loss(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, int]:
        crops, global_t, refine_t, visible = batch
        unit = paste_occluders(unit_images(crops.to(device, non_blocking=True)), occlusion, gen)
        unit = jitter_colours(unit, jitter, gen)
        unit = jitter_texture(unit, texture, gen)
        images = standardize(unit, cfg.channels_last)
        with autocast(device, cfg.bf16):
            outputs = model(images)
        loss = cpn_loss(
            outputs, global_t.to(device), refine_t.to(device), visible.to(device), net.top_k
        )
        return loss, len(crops)

    return step_loss


def _training(
    train: Frames2D, cfg: TrainCPNConfig, margin: float, out_dir: Path, seed: int,
    device: torch.device, weights: backbone_weights.BackboneWeights | None,
) -> engine.Training:  # fmt: skip
    """The CPN of `cfg` on `device`, AdamW with warm-up and cosine decay, and its checkpoint's
    entries (the config, the backbone weights' file, and what inference repeats: margin, flip
    test, bf16, channels_last, the heatmaps' decoding, and how the label boxes sit around the
    keypoints for the route's refine passes)."""
    net = cpn_config(cfg)
    engine.seed_everything(seed)
    model = CPN(net).to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total_steps = cfg.epochs * (len(train) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: engine.warmup_cosine(s, total_steps, WARMUP_FRACTION)
    )
    config = backbone_weights.by_content({**to_dict(cfg), "margin": margin}, weights)
    run_id = engine.fingerprint(config, seed, __name__, engine.array_digest(train.content_key()))
    extra = {"margin": margin, "flip_test": cfg.flip_test, "bf16": cfg.bf16,
             "channels_last": cfg.channels_last, "decode": cfg.decode,
             "keypoint_square": dataclasses.asdict(fit_keypoint_square(train.kp2d_px,
                                                                      train.box_xyxy_px))}  # fmt: skip
    entries = {"config": dataclasses.asdict(net), "extra": extra,
               "backbone_weights": backbone_weights.provenance(weights)}  # fmt: skip
    return engine.Training(
        model, opt, sched, out_dir, run_id, cfg.epochs, HISTORY_FIELDS, entries, kind="cpn"
    )


def train_cpn(
    train: Frames2D,
    heldout: Frames2D,
    cfg: TrainCPNConfig,
    margin: float,
    out_dir: str | Path,
    seed: int,
    device: torch.device | None = None,
) -> TrainResult:
    """Train (or resume) a CPN on the crops of `train`; score it on `heldout` (see the module).

    Writes ``out_dir/checkpoint.pt`` and ``history.csv`` after every epoch, then the metrics.
    Raises ValueError when `train` has fewer frames than one batch, FileNotFoundError when
    ``cfg.backbone_weights`` names no file and ValueError when it is not this ResNet's.
    """
    device = device or torch.device("cpu")
    weights = backbone_weights.locate(cfg.backbone_weights, "train_cpn.backbone_weights")
    if cfg.bf16 and not use_bf16(device, True):
        logger().warning("train_cpn.bf16: %s has no native bfloat16; training in float32", device)
    if len(train) < cfg.batch_size:
        raise ValueError(
            f"train_cpn: {len(train)} training frames, fewer than one batch ({cfg.batch_size})"
        )
    engine.reuse_freed_memory()
    out_dir = Path(out_dir)
    training = _training(train, cfg, margin, out_dir, seed, device, weights)
    model, net = training.model, cpn_config(cfg)
    loaded = LoadedCPN(model, net, margin, cfg.flip_test, cfg.bf16, cfg.channels_last, cfg.decode)
    dataset = CropDataset(train, cfg, net, margin, seed)
    val_frames = heldout.even_sample(HISTORY_VAL_IMAGES)
    jitter_gen = torch.Generator()
    step_loss = _step_loss(training.model, net, cfg, device, jitter_gen)  # type: ignore[arg-type]

    def run_epoch(epoch: int) -> dict[str, float]:
        if epoch == 0 and weights is not None:  # from scratch (`engine.fit` resumes later)
            backbone_weights.load_backbone(model, weights, backbone_key, is_backbone)
        dataset.set_epoch(epoch)
        jitter_gen.manual_seed(engine.epoch_seed(seed, epoch) + 1)  # a resumed run draws the same
        loader = DataLoader(
            dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
            generator=torch.Generator().manual_seed(engine.epoch_seed(seed, epoch)),
            num_workers=LOADER_WORKERS, pin_memory=device.type == "cuda",
            prefetch_factor=4 if LOADER_WORKERS else None,
        )  # fmt: skip
        stats = engine.train_one_epoch(
            model, training.optimizer, training.scheduler, loader, step_loss, len(loader),
            f"epoch {epoch + 1}/{cfg.epochs}",
        )  # fmt: skip
        pred, _, _ = predict_frames(loaded, val_frames, flip_test=False)
        val = keypoint_errors(pred, val_frames.kp2d_px, val_frames.box_xyxy_px)[0]
        return {"train_loss": stats.loss, "samples": stats.samples,
                "val_px_error": val["px_error"], "val_left_right_ratio": val["left_right_ratio"],
                "val_swap_share": val["swap_share"], "train_seconds": stats.seconds,
                "samples_per_s": stats.samples / stats.seconds}  # fmt: skip

    done = engine.fit(training, run_epoch, lambda r: (
        f"loss {r['train_loss']:.5f}, held-out {r['val_px_error']:.2f} px "
        f"({len(val_frames)} frames), {r['samples_per_s']:.1f} crops/s"))  # fmt: skip
    history = done.history
    metrics = evaluate_heldout(loaded, heldout, out_dir)
    metrics["train_seconds"] = float(sum(h["train_seconds"] for h in history))
    metrics["epochs"] = float(len(history))
    metrics["train_frames"] = float(len(train))
    metrics["final_train_loss"] = float(history[-1]["train_loss"]) if history else float("nan")
    write_metrics(out_dir, metrics, HEADLINE)
    return TrainResult(**vars(done), metrics=metrics)


def evaluate_heldout(cpn: LoadedCPN, heldout: Frames2D, out_dir: Path) -> dict[str, float]:
    """Score `cpn` on all of `heldout` (its own flip test); write ``per_joint.csv`` and
    ``keypoints.png``. Returns the flat ``heldout_*`` metrics."""
    t0 = time.perf_counter()
    pred, _, crops = predict_frames(cpn, heldout)
    sec = time.perf_counter() - t0
    scores, per_joint = keypoint_errors(pred, heldout.kp2d_px, heldout.box_xyxy_px, heldout.facing)
    metrics = {f"heldout_{k}": v for k, v in scores.items()}
    metrics["heldout_frames"] = float(len(heldout))
    metrics["heldout_seconds"] = sec
    metrics["flip_test"] = float(cpn.flip_test)
    metrics["decode_dark"] = float(cpn.decode == "dark")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["joint", "px_error"])
    for name, value in zip(H36M17_JOINTS, per_joint, strict=True):
        writer.writerow([name, f"{value:.4f}"])
    write_text_atomic(out_dir / PER_JOINT, out.getvalue())
    pick = np.linspace(0, len(heldout) - 1, min(6, len(heldout))).round().astype(int)
    affines = np.stack([
        crop_transform(crop_box(heldout.box_xyxy_px[i], cpn.margin), cpn.input_size) for i in pick
    ])  # fmt: skip
    save_figure(
        keypoints_figure(
            crops[pick],
            to_crop(heldout.kp2d_px[pick], affines),
            to_crop(pred[pick], affines),
            [f"{heldout.subject[i]} {Path(heldout.image_path[i]).parent.name}" for i in pick],
        ),
        out_dir / KEYPOINTS_PNG,
    )
    logger().info("train_cpn held-out (%d frames): %s", len(heldout), metrics)
    return metrics


def keypoints_figure(
    crops: np.ndarray, truth_px: np.ndarray, pred_px: np.ndarray, titles: list[str]
) -> Any:
    """Crops with the true skeleton (green) and the predicted one (red, dashed).

    Shapes: crops (K, S, S, 3) uint8; truth_px, pred_px (K, 17, 2) crop px.
    """
    import matplotlib.pyplot as plt

    k = len(crops)
    fig, axes = plt.subplots(1, k, figsize=(2.6 * k, 2.9), squeeze=False)
    for ax, crop, truth, pred, title in zip(axes[0], crops, truth_px, pred_px, titles, strict=True):
        ax.imshow(crop)
        for pose, style, colour in ((truth, "-", "#22cc44"), (pred, "--", "#ee3333")):
            for joint, parent in enumerate(H36M17_PARENTS):
                if parent >= 0 and np.isfinite(pose[[joint, parent]]).all():
                    ax.plot(pose[[parent, joint], 0], pose[[parent, joint], 1], style,
                            color=colour, lw=1.2)  # fmt: skip
        size = crop.shape[0]
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_ylim(size - 0.5, -0.5)
        ax.set_title(title, fontsize=7)
        ax.axis("off")
    fig.suptitle("held-out crops: truth green, prediction red", fontsize=9)
    return fig


def load_training_frames(cfg: TrainCPNConfig, extract_dir: str | Path) -> tuple[Frames2D, Frames2D]:
    """The training and held-out frames of ``extract_dir/h36m.parquet``, after refusing
    training subjects that appear in the challenge's Val/Test images."""
    extract_dir = Path(extract_dir)
    check_unseen_subjects(extract_dir / "challenge.parquet", cfg.subjects, "train_cpn")
    table = extract_dir / "h36m.parquet"
    train = load_frames_2d(table, cfg.subjects, max_images=cfg.max_images)
    heldout = load_frames_2d(table, cfg.heldout_subjects)
    return train, heldout


def train_cpn_stage(
    cfg: TrainCPNConfig,
    margin: float,
    extract_dir: str | Path,
    out_dir: str | Path,
    seed: int,
    device: torch.device | None = None,
) -> TrainResult:
    """The stage: load the frames (`load_training_frames`), `train_cpn`."""
    train, heldout = load_training_frames(cfg, extract_dir)
    logger().info("train_cpn: %d training frames (%s), %d held-out (%s)", len(train),
                  ",".join(cfg.subjects), len(heldout), ",".join(cfg.heldout_subjects))  # fmt: skip
    return train_cpn(train, heldout, cfg, margin, out_dir, seed, device)


train_cpn_task = stage_task(train_cpn_stage)
