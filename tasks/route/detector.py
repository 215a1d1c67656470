"""A trained person detector, rebuilt from its checkpoint alone, and its detections.

`sized_detector` builds the SSD of a `models.ssd.DetectorConfig` at an input side other than the
architecture's own (SSDlite only: its default boxes are laid out from the feature maps' sizes,
so they follow the input; SSD300's are tied to 300 px steps). `load_detector` reads a
``checkpoint.pt`` written by `tasks.train_detector` (the detector config, the input side and
channels_last in its ``config``); `detect` gives every detection of a list of RGB images and
`detect_person_boxes` each image's person boxes, best first (`models.ssd.person_boxes`), in its
own pixels. The route (`tasks.route.images`) calls `load_detector` and `detect_person_boxes`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.models import detection

from models.ssd import DetectorConfig, build_detector, person_boxes
from tasks.engine import CheckpointError, load_checkpoint

NATIVE_SIZE = {"ssdlite320_mobilenet_v3_large": 320, "ssd300_vgg16": 300}
PersonBox = tuple[np.ndarray, float]  # box_xyxy_px (4,), score


def sized_detector(cfg: DetectorConfig, image_size: int = 0) -> detection.SSD:
    """`models.ssd.build_detector`, resizing its inputs to ``image_size`` x ``image_size``
    (0: the architecture's own side). Raises ValueError for SSD300 at another side than 300."""
    model = build_detector(cfg)
    native = NATIVE_SIZE[cfg.arch]
    if image_size in (0, native):
        return model
    if cfg.arch != "ssdlite320_mobilenet_v3_large":
        raise ValueError(
            f"image_size {image_size}: {cfg.arch} runs at {native} px only (its default boxes "
            "are placed with fixed 300 px steps); use 0"
        )
    if image_size < 64:
        raise ValueError(f"image_size {image_size}: expected 0 or >= 64")
    model.transform.fixed_size = (image_size, image_size)
    model.transform.min_size = (image_size,)
    model.transform.max_size = image_size
    return model


def checkpoint_config(cfg: DetectorConfig, image_size: int, channels_last: bool) -> dict:
    """The ``config`` entry of a detector checkpoint: enough to rebuild the model."""
    return {
        "detector": dataclasses.asdict(cfg),
        "image_size": int(image_size),
        "channels_last": bool(channels_last),
    }


@dataclass
class LoadedDetector:
    """A detector in eval mode on its device, with how it was built."""

    model: detection.SSD
    config: DetectorConfig
    image_size: int  # input side (0: the architecture's own)
    channels_last: bool
    device: torch.device


def prepare(model: detection.SSD, device: torch.device, channels_last: bool) -> detection.SSD:
    """Move to `device`, with NHWC weights when `channels_last` (oneDNN then runs the
    convolutions in NHWC whatever the input's layout)."""
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model


def load_detector(path: str | Path, device: torch.device | None = None) -> LoadedDetector:
    """Rebuild a detector from a checkpoint on `device` (default cpu), in eval mode. Raises
    FileNotFoundError when it is missing and CheckpointError naming the file when it cannot be
    read or is not a detector checkpoint."""
    path = Path(path)
    device = device or torch.device("cpu")
    state = load_checkpoint(path, ("model", "config"), kind="detector")
    config: Mapping[str, Any] = state["config"]
    try:
        cfg = DetectorConfig(**config["detector"])
        image_size = int(config["image_size"])
        channels_last = bool(config["channels_last"])
        model = sized_detector(cfg, image_size)
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: not a detector checkpoint ({err})") from err
    prepare(model, device, channels_last).eval()
    return LoadedDetector(model, cfg, image_size, channels_last, device)


def _as_tensor(image_rgb: np.ndarray) -> torch.Tensor:
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(
            f"images_rgb: expected uint8 (H, W, 3) arrays, got {image_rgb.dtype} {image_rgb.shape}"
        )
    return torch.from_numpy(np.ascontiguousarray(image_rgb)).permute(2, 0, 1)


def detect(
    det: LoadedDetector, images_rgb: Sequence[np.ndarray], batch_size: int = 16
) -> list[dict[str, torch.Tensor]]:
    """Every detection of each image (boxes XYXY in its pixels, scores, labels; on the CPU),
    batched, in inference mode. Images: (H, W, 3) uint8 RGB, of any sizes."""
    det.model.eval()
    out: list[dict[str, torch.Tensor]] = []
    with torch.inference_mode():
        for start in range(0, len(images_rgb), batch_size):
            batch = [
                (_as_tensor(im).to(det.device).float() / 255.0)
                for im in images_rgb[start : start + batch_size]
            ]
            for d in det.model(batch):
                out.append({k: v.cpu() for k, v in d.items()})
    return out


def detect_person_boxes(
    det: LoadedDetector, images_rgb: list[np.ndarray], batch_size: int = 16
) -> list[list[PersonBox]]:
    """Each image's person boxes, best first (`person_boxes`), in its own pixels; empty where
    the detector finds no person above its score threshold."""
    return [person_boxes(d) for d in detect(det, images_rgb, batch_size)]
