"""The person detector: torchvision's SSD built from one `DetectorConfig`, its augmentation
presets and the choice of the box to crop.

- `build_detector`: ``"ssdlite320_mobilenet_v3_large"`` (the CPU default) or ``"ssd300_vgg16"``
  (the paper's SSD), always with ``weights=None`` and ``weights_backbone=None``: nothing is
  downloaded, every weight starts random (load a checkpoint explicitly). Two classes:
  background (0) and person (`PERSON_LABEL`). The model resizes its inputs itself (to 320 or 300)
  and normalises them; it takes float images in [0, 1].
- `train_transform`: the augmentation of torchvision's detection references, written with the
  transforms.v2 API. Preset ``"ssd"``: photometric distortion, zoom out (filled with the mean
  colour), IoU crop, then clamping and sanitising the boxes, horizontal flip, float in [0, 1].
  Preset ``"ssdlite"``: the same without the photometric distortion and the zoom out.
  `eval_transform`: the conversion to a float image only.
- `detection_sample`: an (image, target) pair in the form both transforms and the model take.
- `best_person_box`: the highest-scoring person detection of one image, as numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.models import detection
from torchvision.transforms import v2

PERSON_LABEL = 1
BUILDERS: dict[str, Callable[..., detection.SSD]] = {
    "ssdlite320_mobilenet_v3_large": detection.ssdlite320_mobilenet_v3_large,
    "ssd300_vgg16": detection.ssd300_vgg16,
}
PRESETS = ("ssd", "ssdlite")
MEAN_FILL_RGB = (124, 116, 104)  # the ImageNet mean colour in 8-bit units


@dataclass(frozen=True)
class DetectorConfig:
    """Everything that builds the detector and picks its augmentation."""

    arch: str = "ssdlite320_mobilenet_v3_large"
    num_classes: int = 2
    score_thresh: float = 0.05
    nms_thresh: float = 0.45
    detections_per_img: int = 20
    augment: str = "ssd"

    def __post_init__(self) -> None:
        if self.arch not in BUILDERS:
            raise ValueError(f"arch {self.arch!r}: expected one of {list(BUILDERS)}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes {self.num_classes}: expected >= 2 (with background)")
        if not (0.0 <= self.score_thresh < 1.0 and 0.0 < self.nms_thresh <= 1.0):
            raise ValueError(
                f"score_thresh {self.score_thresh}, nms_thresh {self.nms_thresh}: expected "
                "[0, 1) and (0, 1]"
            )
        if self.detections_per_img < 1:
            raise ValueError(f"detections_per_img {self.detections_per_img}: expected >= 1")
        if self.augment not in PRESETS:
            raise ValueError(f"augment {self.augment!r}: expected one of {PRESETS}")


def build_detector(cfg: DetectorConfig) -> detection.SSD:
    """A randomly initialised SSD of `cfg.arch` (no weights downloaded or loaded)."""
    return BUILDERS[cfg.arch](
        weights=None,
        weights_backbone=None,
        num_classes=cfg.num_classes,
        score_thresh=cfg.score_thresh,
        nms_thresh=cfg.nms_thresh,
        detections_per_img=cfg.detections_per_img,
    )


def train_transform(cfg: DetectorConfig) -> v2.Compose:
    """The training augmentation of `cfg.augment`, for (image, target) pairs as made by
    `detection_sample`; boxes stay XYXY pixels inside the image, degenerate ones are dropped
    with their labels."""
    steps: list[v2.Transform] = [v2.ToImage()]
    if cfg.augment == "ssd":
        fill: dict[Any, Any] = {tv_tensors.Image: MEAN_FILL_RGB, "others": 0}
        steps += [v2.RandomPhotometricDistort(p=1.0), v2.RandomZoomOut(fill=fill)]
    steps += [
        v2.RandomIoUCrop(),
        v2.ClampBoundingBoxes(),
        v2.SanitizeBoundingBoxes(),
        v2.RandomHorizontalFlip(p=0.5),
        v2.ToDtype(torch.float32, scale=True),
    ]
    return v2.Compose(steps)


def eval_transform() -> v2.Compose:
    """Image (uint8 tensor, PIL or (H, W, 3) array) to a float Image in [0, 1]; the detector
    resizes and normalises by itself."""
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def detection_sample(
    image_hwc: np.ndarray, boxes_xyxy_px: np.ndarray, labels: np.ndarray | None = None
) -> tuple[tv_tensors.Image, dict[str, torch.Tensor]]:
    """An (image, target) pair: a uint8 RGB image and its boxes (persons unless `labels`).

    Shapes: image_hwc (H, W, 3) uint8, boxes_xyxy_px (K, 4), labels (K,) ->
    (Image (3, H, W), {"boxes": BoundingBoxes (K, 4) XYXY, "labels": (K,) int64}).
    """
    if image_hwc.ndim != 3 or image_hwc.shape[2] != 3 or image_hwc.dtype != np.uint8:
        raise ValueError(
            f"image_hwc: expected a uint8 (H, W, 3) array, got {image_hwc.dtype} {image_hwc.shape}"
        )
    boxes = np.asarray(boxes_xyxy_px, dtype=np.float32).reshape(-1, 4)
    if labels is None:
        labels = np.full(len(boxes), PERSON_LABEL)
    if len(labels) != len(boxes):
        raise ValueError(f"labels: expected {len(boxes)} (one per box), got {len(labels)}")
    height, width = image_hwc.shape[:2]
    image = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image_hwc)).permute(2, 0, 1))
    target = {
        "boxes": tv_tensors.BoundingBoxes(
            torch.from_numpy(boxes), format="XYXY", canvas_size=(height, width)
        ),
        "labels": torch.as_tensor(np.asarray(labels), dtype=torch.int64),
    }
    return image, target


def best_person_box(
    detections: Mapping[str, torch.Tensor], person_label: int = PERSON_LABEL
) -> tuple[np.ndarray, float] | None:
    """The highest-scoring detection labelled `person_label` in one image's detections (the
    model's eval output for that image), or None when there is none.

    Shapes: boxes (K, 4) XYXY px, scores (K,), labels (K,) -> (box_xyxy_px (4,), score).
    """
    for key in ("boxes", "scores", "labels"):
        if key not in detections:
            raise ValueError(f"detections: missing key {key!r} (expected boxes, scores, labels)")
    people = detections["labels"] == person_label
    if not bool(people.any()):
        return None
    scores = torch.where(
        people, detections["scores"], torch.full_like(detections["scores"], -torch.inf)
    )
    best = int(torch.argmax(scores))
    box_xyxy_px = detections["boxes"][best].detach().cpu().double().numpy()
    return box_xyxy_px, float(detections["scores"][best])
