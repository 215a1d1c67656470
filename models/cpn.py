"""The Cascaded Pyramid Network (Chen et al. 2018) for 2D keypoint heatmaps of a person crop.

    ResNet C2..C5 (strides 4, 8, 16, 32)
      -> GlobalNet: 1x1 laterals to `channels`, top-down bilinear upsampling and addition (an FPN),
         giving pyramid levels P2..P5; a head per level (1x1 conv, BN, ReLU, 3x3 conv to J maps)
         upsampled to stride 4: four "global" heatmap sets, each supervised (`models.cpn_loss`)
         with Gaussians that widen with the level's coarseness;
      -> RefineNet: level i (i = 0 for P2 .. 3 for P5) through ``i * refine_depth`` bottleneck
         blocks, upsampled to stride 4, concatenated, one bottleneck, a 3x3 conv to J maps:
         the "refine" heatmaps, supervised with online hard keypoint mining.

The backbone is torchvision's ResNet built with ``weights=None`` (nothing is downloaded; load
weights explicitly if wanted: `backbone_key` and `is_backbone` say where an ImageNet ResNet's
state dict goes). Heatmap coordinates follow `pose3d.heatmaps` (cell u sits on input
pixel 4u). The network runs in channels_last memory format and under CPU bfloat16 autocast
(the losses cast to float32).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18, resnet50
from torchvision.models._utils import IntermediateLayerGetter

# builder and the channels of C2..C5
BACKBONES = {
    "resnet18": (resnet18, (64, 128, 256, 512)),
    "resnet50": (resnet50, (256, 512, 1024, 2048)),
}
NUM_LEVELS = 4


@dataclass(frozen=True)
class CPNConfig:
    """Everything that builds a CPN. Sigmas are in heatmap pixels, GlobalNet's from the finest
    level (P2) to the coarsest (P5); they are read by whoever builds the training targets."""

    backbone: str = "resnet50"
    num_joints: int = 17
    input_size: int = 224
    channels: int = 256
    refine_depth: int = 1
    heatmap_stride: int = 4
    global_sigmas: tuple[float, ...] = (1.4, 1.7, 2.0, 2.6)
    refine_sigma: float = 1.4
    top_k: int = 8

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone {self.backbone!r}: expected one of {list(BACKBONES)}")
        if self.num_joints < 1 or self.channels < 2 or self.refine_depth < 0:
            raise ValueError(
                f"num_joints {self.num_joints}, channels {self.channels}, refine_depth "
                f"{self.refine_depth}: expected >= 1, >= 2 and >= 0"
            )
        if self.input_size <= 0 or self.input_size % 32:
            raise ValueError(f"input_size {self.input_size}: expected a positive multiple of 32")
        if self.heatmap_stride != 4:
            raise ValueError(f"heatmap_stride {self.heatmap_stride}: only 4 (ResNet C2) is built")
        if len(self.global_sigmas) != NUM_LEVELS or min(self.global_sigmas) <= 0:
            raise ValueError(
                f"global_sigmas {self.global_sigmas}: expected {NUM_LEVELS} values > 0"
            )
        if self.refine_sigma <= 0 or not 1 <= self.top_k <= self.num_joints:
            raise ValueError(
                f"refine_sigma {self.refine_sigma}, top_k {self.top_k}: expected > 0 and "
                f"1..num_joints ({self.num_joints})"
            )

    @property
    def heatmap_size(self) -> int:
        return self.input_size // self.heatmap_stride


def _conv_bn_relu(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class Bottleneck(nn.Module):
    """1x1 (c_out / 2), 3x3, 1x1 (c_out) with batch norm, plus a shortcut (projected when the
    channel count changes), then ReLU. Shapes: (N, c_in, H, W) -> (N, c_out, H, W)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        mid = c_out // 2
        self.body = nn.Sequential(
            _conv_bn_relu(c_in, mid, 1),
            _conv_bn_relu(mid, mid, 3),
            nn.Conv2d(mid, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class GlobalNet(nn.Module):
    """FPN over C2..C5 with a heatmap head per level.

    Shapes: four (N, C_i, H_i, W_i) -> (pyramid: four (N, channels, H_i, W_i), finest first;
    heatmaps: four (N, J, H_0, W_0)).
    """

    def __init__(self, in_channels: tuple[int, ...], channels: int, num_joints: int) -> None:
        super().__init__()
        self.laterals = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, channels, 1, bias=False), nn.BatchNorm2d(channels))
            for c in in_channels
        )
        self.heads = nn.ModuleList(
            nn.Sequential(
                _conv_bn_relu(channels, channels, 1), nn.Conv2d(channels, num_joints, 3, padding=1)
            )
            for _ in in_channels
        )

    def forward(
        self, features: list[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        pyramid: list[torch.Tensor] = []
        above: torch.Tensor | None = None
        for lateral, c in zip(reversed(self.laterals), reversed(features), strict=True):
            level = lateral(c)
            if above is not None:
                level = level + _resize(above, (level.shape[-2], level.shape[-1]))
            pyramid.insert(0, level)
            above = level
        size = (pyramid[0].shape[-2], pyramid[0].shape[-1])
        heatmaps = [_resize(head(p), size) for head, p in zip(self.heads, pyramid, strict=True)]
        return pyramid, heatmaps


class RefineNet(nn.Module):
    """Level i through ``i * depth`` bottlenecks, all upsampled to the finest level, concatenated,
    one bottleneck and a 3x3 conv. Shapes: four (N, channels, H_i, W_i) -> (N, J, H_0, W_0)."""

    def __init__(self, channels: int, num_joints: int, depth: int) -> None:
        super().__init__()
        self.levels = nn.ModuleList(
            nn.Sequential(*(Bottleneck(channels, channels) for _ in range(i * depth)))
            for i in range(NUM_LEVELS)
        )
        self.fuse = Bottleneck(NUM_LEVELS * channels, channels)
        self.out = nn.Conv2d(channels, num_joints, 3, padding=1)

    def forward(self, pyramid: list[torch.Tensor]) -> torch.Tensor:
        size = (pyramid[0].shape[-2], pyramid[0].shape[-1])
        levels = [_resize(block(p), size) for block, p in zip(self.levels, pyramid, strict=True)]
        out: torch.Tensor = self.out(self.fuse(torch.cat(levels, dim=1)))
        return out


def backbone_key(name: str) -> str | None:
    """Where the weight `name` of torchvision's ImageNet ResNet (a key of
    ``resnet18().state_dict()``) sits in a `CPN`'s state dict: ``backbone.<name>``; None for its
    classifier (``fc.*``), which the CPN has not."""
    return None if name.startswith("fc.") else f"backbone.{name}"


def is_backbone(key: str) -> bool:
    """Whether the CPN's state-dict entry `key` is one of its ResNet's (an ImageNet ResNet's)."""
    return key.startswith("backbone.")


class CPN(nn.Module):
    """Cascaded Pyramid Network.

    Shapes: images (N, 3, S, S) normalised -> (global heatmaps: four (N, J, S/4, S/4), finest
    level first; refine heatmaps (N, J, S/4, S/4)), with S = ``cfg.input_size``.
    """

    def __init__(self, cfg: CPNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        build, in_channels = BACKBONES[cfg.backbone]
        layers = {f"layer{i + 1}": f"c{i + 2}" for i in range(NUM_LEVELS)}
        self.backbone = IntermediateLayerGetter(build(weights=None), return_layers=layers)
        self.global_net = GlobalNet(in_channels, cfg.channels, cfg.num_joints)
        self.refine_net = RefineNet(cfg.channels, cfg.num_joints, cfg.refine_depth)

    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        size = self.cfg.input_size
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[-2:]) != (size, size):
            raise ValueError(
                f"CPN input: expected shape (N, 3, {size}, {size}), got {tuple(images.shape)}"
            )
        features = list(self.backbone(images).values())
        pyramid, global_heatmaps = self.global_net(features)
        return global_heatmaps, self.refine_net(pyramid)
