"""The person detector: torchvision's SSD built from one `DetectorConfig`, its augmentation
presets and the choice of the box to crop.

- `build_detector`: ``"ssdlite320_mobilenet_v3_large"`` (the CPU default) or ``"ssd300_vgg16"``
  (the paper's SSD), always with ``weights=None`` and ``weights_backbone=None``: nothing is
  downloaded, every weight starts random (load a checkpoint explicitly). Two classes:
  background (0) and person (`PERSON_LABEL`). The model resizes its inputs itself (to 320 or 300)
  and normalises them; it takes float images in [0, 1]. SSDlite's MobileNetV3 has torchvision's
  reduced tail (the last stage's channels halved, as torchvision builds it without ImageNet
  weights) unless ``reduced_tail=False``: the ImageNet classifier's layout, to load its weights.
- `backbone_key`, `is_backbone`: where a weight of torchvision's ImageNet classifier
  (``mobilenet_v3_large().state_dict()``, ``vgg16().state_dict()``) sits in the detector.
- `train_transform`: the augmentation of torchvision's detection references, written with the
  transforms.v2 API. Preset ``"ssd"``: photometric distortion, zoom out (filled with the mean
  colour), IoU crop, then clamping and sanitising the boxes, horizontal flip, float in [0, 1].
  Preset ``"ssdlite"``: the same without the photometric distortion and the zoom out.
  `eval_transform`: the conversion to a float image only.
- `detection_sample`: an (image, target) pair in the form both transforms and the model take.
- `person_boxes`: the person detections of one image, best first, as numpy; `best_person_box`
  the first of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision import tv_tensors
from torchvision.models import detection, mobilenet_v3_large
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.ssdlite import SSDLiteFeatureExtractorMobileNet, SSDLiteHead
from torchvision.transforms import v2

PERSON_LABEL = 1
BUILDERS: dict[str, Callable[..., detection.SSD]] = {
    "ssdlite320_mobilenet_v3_large": detection.ssdlite320_mobilenet_v3_large,
    "ssd300_vgg16": detection.ssd300_vgg16,
}
PRESETS = ("ssd", "ssdlite")
MEAN_FILL_RGB = (124, 116, 104)  # the ImageNet mean colour in 8-bit units
# where torchvision's detectors cut their ImageNet classifier's `features` (ssdlite.py's
# _mobilenet_extractor, ssd.py's SSDFeatureExtractorVGG): MobileNetV3-Large's last strided block,
# whose expansion conv ends the detector's first part; VGG-16's fourth max pool (conv4_3 before
# it, conv5 after it, in the first extra block) and its fifth, which SSD300 leaves out
MOBILENET_C4 = 13
VGG16_POOL4, VGG16_POOL5 = 23, 30


@dataclass(frozen=True)
class DetectorConfig:
    """Everything that builds the detector and picks its augmentation."""

    arch: str = "ssdlite320_mobilenet_v3_large"
    num_classes: int = 2
    score_thresh: float = 0.05
    nms_thresh: float = 0.45
    detections_per_img: int = 20
    augment: str = "ssd"
    reduced_tail: bool = True  # SSDlite: MobileNetV3's halved last stage; False: ImageNet's layout

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
    if cfg.arch == "ssdlite320_mobilenet_v3_large" and not cfg.reduced_tail:
        return _ssdlite_imagenet_layout(cfg)
    return BUILDERS[cfg.arch](
        weights=None,
        weights_backbone=None,
        num_classes=cfg.num_classes,
        score_thresh=cfg.score_thresh,
        nms_thresh=cfg.nms_thresh,
        detections_per_img=cfg.detections_per_img,
    )


def _ssdlite_imagenet_layout(cfg: DetectorConfig) -> detection.SSD:
    """torchvision's ``ssdlite320_mobilenet_v3_large`` as it builds it around an ImageNet
    backbone (the full tail, nothing frozen), but with random weights and nothing downloaded."""
    norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    trunk = mobilenet_v3_large(weights=None, norm_layer=norm_layer, reduced_tail=False)
    backbone = SSDLiteFeatureExtractorMobileNet(trunk.features, MOBILENET_C4, norm_layer)
    anchors = DefaultBoxGenerator([[2, 3] for _ in range(6)], min_ratio=0.2, max_ratio=0.95)
    size = (320, 320)
    out_channels = det_utils.retrieve_out_channels(backbone, size)
    head = SSDLiteHead(
        out_channels, anchors.num_anchors_per_location(), cfg.num_classes, norm_layer
    )
    return detection.ssd.SSD(
        backbone, anchors, size, cfg.num_classes, head=head, score_thresh=cfg.score_thresh,
        nms_thresh=cfg.nms_thresh, detections_per_img=cfg.detections_per_img,
        topk_candidates=300, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
    )  # fmt: skip


def backbone_key(arch: str, name: str) -> str | None:
    """Where the weight `name` of the ImageNet classifier behind `arch` (a key of torchvision's
    ``mobilenet_v3_large().state_dict()`` or ``vgg16().state_dict()``) sits in the detector's
    state dict; None for the classifier's head (``classifier.*``), which the detector has not.
    A name outside that layout comes back as it is (`is_backbone` says no to it)."""
    if name.startswith("classifier."):
        return None
    parts = name.split(".")
    if parts[0] != "features" or len(parts) < 3 or not parts[1].isdigit():
        return name
    index, rest = int(parts[1]), ".".join(parts[2:])
    if arch == "ssd300_vgg16":
        if index < VGG16_POOL4:
            return f"backbone.features.{index}.{rest}"
        return f"backbone.extra.0.{index - VGG16_POOL4}.{rest}" if index < VGG16_POOL5 else name
    if index < MOBILENET_C4:
        return f"backbone.features.0.{index}.{rest}"
    if index > MOBILENET_C4:
        return f"backbone.features.1.{index - MOBILENET_C4}.{rest}"
    if parts[2] != "block" or len(parts) < 5 or not parts[3].isdigit():
        return name
    block, rest = int(parts[3]), ".".join(parts[4:])  # the C4 block: expansion, then the rest
    if block == 0:
        return f"backbone.features.0.{MOBILENET_C4}.{rest}"
    return f"backbone.features.1.0.{block}.{rest}"


def is_backbone(arch: str, key: str) -> bool:
    """Whether the detector's state-dict entry `key` comes from the ImageNet classifier behind
    `arch` (SSD300's conv5 sits in its first extra block, before the new fc6/fc7)."""
    if arch == "ssd300_vgg16" and key.startswith("backbone.extra.0."):
        return int(key.split(".")[3]) < VGG16_POOL5 - VGG16_POOL4
    return key.startswith("backbone.features.")


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


def person_boxes(
    detections: Mapping[str, torch.Tensor], person_label: int = PERSON_LABEL
) -> list[tuple[np.ndarray, float]]:
    """Every detection labelled `person_label` in one image's detections (the model's eval
    output for that image), highest score first (ties in the detector's order).

    Shapes: boxes (K, 4) XYXY px, scores (K,), labels (K,) -> [(box_xyxy_px (4,), score)].
    """
    for key in ("boxes", "scores", "labels"):
        if key not in detections:
            raise ValueError(f"detections: missing key {key!r} (expected boxes, scores, labels)")
    people = torch.nonzero(detections["labels"] == person_label).flatten()
    order = people[torch.sort(detections["scores"][people], descending=True, stable=True).indices]
    boxes = detections["boxes"].detach().cpu().double().numpy()
    return [(boxes[int(i)], float(detections["scores"][int(i)])) for i in order]


def best_person_box(
    detections: Mapping[str, torch.Tensor], person_label: int = PERSON_LABEL
) -> tuple[np.ndarray, float] | None:
    """The highest-scoring of `person_boxes`, or None when there is none."""
    found = person_boxes(detections, person_label)
    return found[0] if found else None
