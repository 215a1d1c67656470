"""A trained CPN, rebuilt from its checkpoint alone, and its keypoints on person crops.

`load_cpn` reads a ``checkpoint.pt`` written by `tasks.train_cpn.train_cpn` (the model's
`CPNConfig`, its weights, and what training decided for inference: the crop margin it was
trained with, the flip test, bfloat16 autocast, channels_last, and how its training boxes sat
around the keypoints). `predict_crops` maps
``S x S`` RGB crops (``S = input_size``) to keypoints in crop pixels and their heatmap peak
scores; the caller does the crop-and-resize and its inverse (`pose3d.crop`).

Flip test: the mirrored crop's refine heatmaps are mirrored back with the left/right channels
swapped (`pose3d.heatmaps.flip_heatmaps`) and averaged with the crop's own. Mirrored-back maps sit
`flip_offset_heatmap_px` (3/4 heatmap pixel at stride 4) left of the crop's, so the average peaks
half of that left, and half of it is added back to the decoded x.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.cpn import CPN, CPNConfig
from models.precision import autocast
from pose3d.config import CPN_DECODERS
from pose3d.crop import KeypointSquare
from pose3d.heatmaps import decode_heatmaps, flip_heatmaps, flip_offset_heatmap_px
from tasks.engine import CheckpointError, load_checkpoint

# ImageNet statistics of RGB in [0, 1] (torchvision's ResNets)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class LoadedCPN:
    """A CPN in eval mode on its device, with what inference needs: its config (input_size,
    stride), the crop margin it was trained with, the flip test, bfloat16 autocast,
    channels_last and the heatmaps' decoding (`pose3d.config.CPN_DECODERS`) as training chose
    them, and the box its training frames' labels draw around the keypoints (the route's refine
    passes)."""

    model: nn.Module  # a models.cpn.CPN (anything returning (global maps, refine maps))
    config: CPNConfig
    margin: float
    flip_test: bool = True
    bf16: bool = False
    channels_last: bool = False
    decode: str = "quarter"
    keypoint_square: KeypointSquare | None = None  # None: trained before refine passes

    @property
    def input_size(self) -> int:
        return self.config.input_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def cpn_config_from_dict(raw: dict[str, Any]) -> CPNConfig:
    """A `CPNConfig` from its `dataclasses.asdict` form (tuples come back from lists)."""
    fields = {f.name for f in dataclasses.fields(CPNConfig)}
    unknown = set(raw) - fields
    if unknown:
        raise ValueError(f"unknown CPN config keys {sorted(unknown)}")
    values = dict(raw)
    if "global_sigmas" in values:
        values["global_sigmas"] = tuple(float(s) for s in values["global_sigmas"])
    return CPNConfig(**values)


def normalize_images(images_u8: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 RGB crops -> the network's input. Shapes: (N, S, S, 3) uint8 -> (N, 3, S, S) float32
    (channels_last memory format when asked)."""
    return standardize(unit_images(images_u8), channels_last)


def unit_images(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 RGB crops as floats in [0, 1]. Shapes: (N, S, S, 3) uint8 -> (N, 3, S, S) float32."""
    return images_u8.permute(0, 3, 1, 2).float().div_(255.0)


def standardize(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """Images in [0, 1] -> the network's input (ImageNet mean and spread). Shapes: (N, 3, S, S)
    float32 -> same (channels_last memory format when asked)."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    x = (x - mean) / std
    return x.contiguous(
        memory_format=torch.channels_last if channels_last else torch.contiguous_format
    )


def load_cpn(path: str | Path, device: torch.device | None = None) -> LoadedCPN:
    """Rebuild a CPN from a checkpoint on `device` (default cpu). Raises FileNotFoundError when
    it is missing and CheckpointError naming the file when it is not a CPN checkpoint."""
    path = Path(path)
    state = load_checkpoint(path, ("model", "config", "extra"), kind="cpn")
    try:
        cfg = cpn_config_from_dict(state["config"])
        extra = state["extra"]
        margin = float(extra["margin"])
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(f"{path}: not a CPN checkpoint ({err!r})") from err
    model = CPN(cfg)
    model.load_state_dict(state["model"])
    channels_last = bool(extra.get("channels_last", False))
    decode = str(extra.get("decode", "quarter"))  # checkpoints before the option: quarter
    if decode not in CPN_DECODERS:
        raise CheckpointError(f"{path}: unknown heatmap decoding {decode!r}")
    try:
        fit = extra.get("keypoint_square")
        keypoint_square = None if fit is None else KeypointSquare(**fit)
    except (TypeError, ValueError) as err:
        raise CheckpointError(
            f"{path}: bad keypoint square {extra.get('keypoint_square')!r}"
        ) from err
    model.to(device or torch.device("cpu"))
    if channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    model.eval()
    return LoadedCPN(
        model, cfg, margin, bool(extra.get("flip_test", False)), bool(extra.get("bf16", False)),
        channels_last, decode, keypoint_square,
    )  # fmt: skip


def _refine_heatmaps(cpn: LoadedCPN, images: torch.Tensor) -> np.ndarray:
    with autocast(images.device, cpn.bf16):
        _, refine = cpn.model(images)
    return refine.float().cpu().numpy()


def _batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def predict_crops(
    cpn: LoadedCPN,
    crops_rgb: np.ndarray,
    batch_size: int = 32,
    flip_test: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints of person crops, in crop pixels (argmax + the checkpoint's sub-pixel decoding,
    `pose3d.heatmaps`), with the flip test when `flip_test` (None: the checkpoint's choice).

    Shapes: crops_rgb (N, S, S, 3) uint8 with S = ``cpn.input_size`` -> (kp_crop_px (N, 17, 2)
    float64, scores (N, 17) float64, the refine heatmaps' peak values).
    """
    crops = np.asarray(crops_rgb)
    size = cpn.input_size
    if crops.ndim != 4 or crops.shape[1:] != (size, size, 3) or crops.dtype != np.uint8:
        raise ValueError(
            f"crops_rgb: expected (N, {size}, {size}, 3) uint8, got {crops.shape} {crops.dtype}"
        )
    flip = cpn.flip_test if flip_test is None else flip_test
    stride = cpn.config.heatmap_stride
    joints, hm = cpn.config.num_joints, cpn.config.heatmap_size
    kp = np.zeros((len(crops), joints, 2))
    scores = np.zeros((len(crops), joints))
    cpn.model.eval()
    device = cpn.device
    with torch.inference_mode():
        for part in _batches(len(crops), batch_size):
            images = normalize_images(torch.from_numpy(crops[part]).to(device), cpn.channels_last)
            maps = _refine_heatmaps(cpn, images)
            if flip:
                mirrored = _refine_heatmaps(cpn, torch.flip(images, dims=(3,)))
                maps = 0.5 * (maps + flip_heatmaps(mirrored))
            kp_hm, score = decode_heatmaps(
                maps.reshape(-1, joints, hm, hm), cpn.decode, cpn.config.refine_sigma
            )
            if flip:
                kp_hm[..., 0] += 0.5 * flip_offset_heatmap_px(stride)
            kp[part] = kp_hm * stride
            scores[part] = score
    return kp, scores
