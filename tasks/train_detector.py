"""The `train_detector` stage: train torchvision's SSD (models.ssd, two classes; random init, or
the backbone from an ImageNet classifier's state dict file, `train_detector.backbone_weights`) on
the Human3.6M-layout frames of `train_detector.subjects` with their boxes, then score it.

Training: the frames of `subjects` from ``<extract>/h36m.parquet`` (an even sample of
`max_images`), never a subject of the challenge's Val/Test images
(`pose3d.frames.check_unseen_subjects`); each image decoded and augmented
(`models.ssd.train_transform`, preset `augment`; about 26 ms per 320 px frame with the "ssd"
preset, a third of a step at 224 px) in the main process; AdamW,
linear warm-up then cosine decay per step; the detector's input side is `image_size`
(`tasks.route.detector.sized_detector`). Backbone weights (`tasks.backbone_weights`) are loaded
when training from scratch, into SSDlite's MobileNetV3 with ImageNet's full tail (as torchvision
builds it around ImageNet weights) or SSD300's VGG-16; their sha256 is part of the run's
fingerprint. After every epoch ``out_dir`` gets (atomically, `tasks.engine`'s checkpoint format
and resume rule):
- ``checkpoint.pt``: model, optimiser, scheduler, epoch, in ``config`` what rebuilds the
  model (`tasks.route.detector.load_detector`), and the backbone weights' path and sha256;
- ``history.csv``: one row per epoch (`HISTORY_FIELDS`; ``heldout_ap50`` on a sample of at most
  `EPOCH_EVAL_IMAGES` held-out frames).
After training: AP at IoU 0.5 and the recall of the best box (`detection_scores`) on every frame
of `heldout_subjects` and on the challenge images of `eval_splits` (their label boxes), in
``metrics.json``, and ``detections.png`` (truth and best box on a few of those images).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from models import ssd
from pose3d.config import TrainDetectorConfig, to_dict
from pose3d.frames import check_unseen_subjects
from pose3d.io import write_metrics
from pose3d.metrics import detection_ap_recall
from pose3d.plots import save_figure
from tasks import backbone_weights, engine
from tasks._prefect import logger, progress, stage_task
from tasks.route import detector as trained
from tasks.route.frames import Frames2D, load_frames_2d, read_rgb

HEADLINE = ("val_ap50", "val_best_box_recall")  # metrics.json; everything: scores.json
PICTURE = "detections.png"
HISTORY_FIELDS = ("epoch", "lr", "train_loss", "heldout_ap50", "train_seconds", "images_per_s")
EPOCH_EVAL_IMAGES = 100  # held-out frames scored after each epoch (the curve); all at the end
WARMUP_FRACTION = 0.05  # of the optimiser steps
GRAD_CLIP_NORM = 10.0  # random-init SSD: a few early batches give huge gradients


def detector_config(cfg: TrainDetectorConfig) -> ssd.DetectorConfig:
    """The `models.ssd` config of a `train_detector` section (SSDlite's MobileNetV3 in ImageNet's
    layout when it starts from ImageNet weights)."""
    return ssd.DetectorConfig(
        arch=cfg.arch, score_thresh=cfg.score_thresh, augment=cfg.augment,
        reduced_tail=not cfg.backbone_weights,
    )  # fmt: skip


def valid_boxes(frames: Frames2D) -> Frames2D:
    """The frames whose box is finite with a positive width and height."""
    b = frames.box_xyxy_px
    ok = np.isfinite(b).all(1) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    return frames.take(np.flatnonzero(ok))


class BoxFrames(torch.utils.data.Dataset):
    """Frames with one person box each, decoded, shrunk so that their longer side is at most
    `max_side` (0: as they are; the detector's input side: augmenting more pixels than the
    detector sees only costs time) and augmented: (image (3, H, W) float in [0, 1],
    {"boxes": (K, 4) XYXY px, "labels": (K,)}) as plain tensors."""

    def __init__(self, frames: Frames2D, cfg: ssd.DetectorConfig, max_side: int = 0) -> None:
        self.paths = list(frames.image_path)
        self.boxes = frames.box_xyxy_px
        self.transform = ssd.train_transform(cfg)
        self.max_side = max_side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image, box = shrink(read_rgb(self.paths[i]), self.boxes[i], self.max_side)
        image, target = self.transform(*ssd.detection_sample(image, box))
        return image.as_subclass(torch.Tensor), {
            "boxes": target["boxes"].as_subclass(torch.Tensor).float(),
            "labels": target["labels"],
        }


def shrink(
    image: np.ndarray, box_xyxy_px: np.ndarray, max_side: int
) -> tuple[np.ndarray, np.ndarray]:
    """`image` resized (area interpolation) so that its longer side is at most `max_side`
    (0: unchanged), and its box in the new pixels. Shapes: (H, W, 3), (4,) -> (H', W', 3), (4,)."""
    height, width = image.shape[:2]
    if max_side <= 0 or max(height, width) <= max_side:
        return image, box_xyxy_px
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return small, np.asarray(box_xyxy_px, np.float64) * [
        size[0] / width, size[1] / height, size[0] / width, size[1] / height,
    ]  # fmt: skip


def _collate(batch: Sequence[Any]) -> tuple[list, list]:
    return [b[0] for b in batch], [b[1] for b in batch]


def detection_scores(
    detections: Sequence[Mapping[str, torch.Tensor]],
    truth_xyxy_px: np.ndarray,
    iou_thresh: float = 0.5,
    person_label: int = ssd.PERSON_LABEL,
) -> tuple[float, float]:
    """(AP, best-box recall) of the person detections of one-person images
    (`pose3d.metrics.detection_ap_recall`). Shapes: detections: one dict (boxes (K, 4), scores
    (K,), labels (K,)) per image; truth_xyxy_px (N, 4)."""
    people = [det["labels"] == person_label for det in detections]
    boxes = [det["boxes"][p].double().numpy() for det, p in zip(detections, people, strict=True)]
    scores = [det["scores"][p].double().numpy() for det, p in zip(detections, people, strict=True)]
    return detection_ap_recall(boxes, scores, truth_xyxy_px, iou_thresh)


def detect_frames(
    det: trained.LoadedDetector, frames: Frames2D, batch_size: int = 16, desc: str = "detect"
) -> list[dict[str, torch.Tensor]]:
    """`detect` on the images of `frames`, decoded one batch at a time."""
    out: list[dict[str, torch.Tensor]] = []
    starts = range(0, len(frames), batch_size)
    for start in progress(starts, total=len(starts), desc=desc, every=0.25):
        images = [read_rgb(p) for p in frames.image_path[start : start + batch_size]]
        out += trained.detect(det, images, batch_size)
    return out


def _training_frames(cfg: TrainDetectorConfig, extract_dir: Path) -> Frames2D:
    """The frames of ``cfg.subjects`` with a valid box; ValueError for a subject of the
    challenge's Val/Test images or fewer frames than one batch."""
    check_unseen_subjects(extract_dir / "challenge.parquet", cfg.subjects, "train_detector")
    train = valid_boxes(
        load_frames_2d(extract_dir / "h36m.parquet", cfg.subjects, (), cfg.max_images)
    )
    if len(train) < cfg.batch_size:
        raise ValueError(
            f"train_detector: {len(train)} training frames with a box, fewer than one batch "
            f"({cfg.batch_size})"
        )
    return train


def _training(
    cfg: TrainDetectorConfig, train: Frames2D, out_dir: Path, seed: int, device: torch.device,
    weights: backbone_weights.BackboneWeights | None,
) -> engine.Training:  # fmt: skip
    """The SSD of `cfg` on `device`, AdamW with warm-up and cosine decay, and the checkpoint's
    config (what rebuilds the model) and backbone weights' file."""
    det_cfg = detector_config(cfg)
    engine.seed_everything(seed)
    model = trained.prepare(
        trained.sized_detector(det_cfg, cfg.image_size), device, cfg.channels_last
    )
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total_steps = cfg.epochs * (len(train) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: engine.warmup_cosine(s, total_steps, WARMUP_FRACTION)
    )
    config = backbone_weights.by_content(to_dict(cfg), weights)
    run_id = engine.fingerprint(config, seed, __name__, engine.array_digest(train.content_key()))
    entries = {"config": trained.checkpoint_config(det_cfg, cfg.image_size, cfg.channels_last),
               "backbone_weights": backbone_weights.provenance(weights)}  # fmt: skip
    return engine.Training(
        model, opt, sched, out_dir, run_id, cfg.epochs, HISTORY_FIELDS, entries, kind="detector"
    )


def train_detector(
    cfg: TrainDetectorConfig,
    extract_dir: str | Path,
    out_dir: str | Path,
    seed: int,
    device: torch.device | None = None,
    workers: int = 0,
) -> engine.FitResult:
    """Train (or resume) the detector of `cfg` on the frames of ``cfg.subjects`` in
    ``extract_dir/h36m.parquet``. Writes ``out_dir/checkpoint.pt`` and ``out_dir/history.csv``
    after every epoch. Raises ValueError for a subject of the challenge's Val/Test images, no
    frames, fewer frames than one batch, or backbone weights of another architecture, and
    FileNotFoundError when ``cfg.backbone_weights`` names no file. `workers`: DataLoader worker
    processes that decode and augment (0: in the main process; 1 was no faster on 2 busy cores,
    and a forked worker sometimes died at start inside a Prefect flow run)."""
    device = device or torch.device("cpu")
    weights = backbone_weights.locate(cfg.backbone_weights, "train_detector.backbone_weights")
    extract_dir = Path(extract_dir)
    train = _training_frames(cfg, extract_dir)
    heldout = _heldout(cfg, extract_dir)
    curve_frames = None if heldout is None else heldout.even_sample(EPOCH_EVAL_IMAGES)
    training = _training(cfg, train, Path(out_dir), seed, device, weights)
    model, det_cfg = training.model, detector_config(cfg)
    dataset = BoxFrames(train, det_cfg, cfg.image_size or trained.NATIVE_SIZE[cfg.arch])
    loaded = trained.LoadedDetector(model, det_cfg, cfg.image_size, cfg.channels_last, device)

    def step_loss(batch: tuple[list, list]) -> tuple[torch.Tensor, int]:
        images = [im.to(device, non_blocking=True) for im in batch[0]]
        targets = [{k: v.to(device) for k, v in t.items()} for t in batch[1]]
        losses = model(images, targets)
        return losses["bbox_regression"] + losses["classification"], len(images)

    def run_epoch(epoch: int) -> dict[str, float]:
        if epoch == 0 and weights is not None:  # from scratch (`engine.fit` resumes later)
            layout = partial(ssd.backbone_key, cfg.arch), partial(ssd.is_backbone, cfg.arch)
            backbone_weights.load_backbone(model, weights, *layout)
        torch.manual_seed(engine.epoch_seed(seed, epoch))  # the augmentation's draws when workers=0
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
            num_workers=workers, collate_fn=_collate,
            generator=torch.Generator().manual_seed(engine.epoch_seed(seed, epoch)),
        )  # fmt: skip
        stats = engine.train_one_epoch(
            model, training.optimizer, training.scheduler, loader, step_loss, len(loader),
            f"train_detector epoch {epoch + 1}/{cfg.epochs}", grad_clip=GRAD_CLIP_NORM,
        )  # fmt: skip
        ap = float("nan")
        if curve_frames is not None:
            found = detect_frames(loaded, curve_frames, desc="held-out")
            ap = detection_scores(found, curve_frames.box_xyxy_px)[0]
        return {"train_loss": stats.loss, "samples": stats.samples, "heldout_ap50": ap,
                "train_seconds": stats.seconds, "images_per_s": stats.samples / stats.seconds}  # fmt: skip

    result = engine.fit(training, run_epoch, lambda r: (
        f"loss {r['train_loss']:.4f}, held-out AP50 {r['heldout_ap50']:.3f} "
        f"({0 if curve_frames is None else len(curve_frames)} frames), "
        f"{r['train_seconds']:.1f} s, {r['images_per_s']:.1f} images/s"))  # fmt: skip
    model.eval()
    return result


def _heldout(cfg: TrainDetectorConfig, extract_dir: Path) -> Frames2D | None:
    if not cfg.heldout_subjects:
        return None
    return valid_boxes(load_frames_2d(extract_dir / "h36m.parquet", cfg.heldout_subjects))


def eval_sets(cfg: TrainDetectorConfig, extract_dir: str | Path) -> dict[str, Frames2D]:
    """What the detector is scored on: ``heldout`` (the frames of `heldout_subjects`) and each
    challenge split of `eval_splits` (lower-cased; its images with a label box). A missing
    challenge table leaves its splits out (with a warning)."""
    extract_dir = Path(extract_dir)
    sets: dict[str, Frames2D] = {}
    heldout = _heldout(cfg, extract_dir)
    if heldout is not None:
        sets["heldout"] = heldout
    challenge = extract_dir / "challenge.parquet"
    for split in cfg.eval_splits:
        if not challenge.is_file():
            logger().warning("train_detector: %s missing, %s not scored", challenge, split)
            continue
        sets[split.lower()] = valid_boxes(load_frames_2d(challenge, (), (split,)))
    return sets


def detections_figure(
    examples: Sequence[tuple[str, str, np.ndarray, Mapping[str, torch.Tensor]]],
) -> Figure:
    """One panel per (title, image path, truth box, detections): the image, the truth box
    (green) and the best person box (red, with its score)."""
    cols = min(4, max(1, len(examples)))
    rows = math.ceil(len(examples) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (title, path, truth, det) in zip(axes.ravel(), examples, strict=False):
        ax.imshow(read_rgb(path))
        x0, y0, x1, y1 = truth
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="lime", lw=1.5))
        best = ssd.best_person_box(det)
        if best is not None:
            (b0, c0, b1, c1), score = best
            ax.add_patch(Rectangle((b0, c0), b1 - b0, c1 - c0, fill=False, ec="red", lw=1.5))
            title = f"{title} {score:.2f}"
        ax.set_title(title, fontsize=8)
    fig.suptitle("truth (green), best detection (red, score)", fontsize=9)
    return fig


def evaluate_detector(
    det: trained.LoadedDetector, sets: Mapping[str, Frames2D], out_dir: str | Path, per_set: int = 4
) -> dict[str, float]:
    """``<set>_ap50``, ``<set>_best_box_recall`` and ``<set>_images`` of each set; draws
    ``detections.png`` from `per_set` evenly spaced images of each."""
    metrics: dict[str, float] = {}
    examples = []
    for name, frames in sets.items():
        found = detect_frames(det, frames, desc=f"score {name}")
        ap, recall = detection_scores(found, frames.box_xyxy_px)
        metrics |= {f"{name}_ap50": ap, f"{name}_best_box_recall": recall,
                    f"{name}_images": float(len(frames))}  # fmt: skip
        for i in np.linspace(0, len(frames) - 1, min(per_set, len(frames))).round().astype(int):
            examples.append((name, frames.image_path[i], frames.box_xyxy_px[i], found[i]))
    if examples:
        save_figure(detections_figure(examples), Path(out_dir) / PICTURE)
    return metrics


def train_detector_stage(
    cfg: TrainDetectorConfig,
    extract_dir: str | Path,
    out_dir: str | Path,
    seed: int,
    device: torch.device | None = None,
) -> dict[str, float]:
    """The stage: `train_detector`, then `evaluate_detector` into ``metrics.json`` and
    ``detections.png``. Returns the metrics."""
    device = device or torch.device("cpu")
    result = train_detector(cfg, extract_dir, out_dir, seed, device)
    det = trained.load_detector(result.checkpoint, device)
    t0 = time.perf_counter()
    metrics = evaluate_detector(det, eval_sets(cfg, extract_dir), out_dir)
    metrics |= {
        "train_seconds": sum(h["train_seconds"] for h in result.history),
        "eval_seconds": time.perf_counter() - t0,
        "epochs": float(len(result.history)),
        "torch_threads": float(torch.get_num_threads()),
    }
    write_metrics(out_dir, metrics, HEADLINE)
    logger().info("train_detector: %s", metrics)
    return metrics


train_detector_task = stage_task(train_detector_stage)
