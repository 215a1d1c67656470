"""Batched photometric jitter for training crops: each image of a batch gets its own colours
(brightness, contrast, saturation and hue, as one affine map of its RGB values) and its own
texture (sharpness and sensor noise).

`ColourJitter` follows the ranges of torchvision's ``ColorJitter`` (brightness, contrast and
saturation factors uniform in ``[1 - v, 1 + v]``, a hue turn uniform in ``[-h, h]`` of a full
circle), but draws them per image and applies them to a whole (N, 3, H, W) batch at once: the
four steps are linear in RGB (the hue turn is a rotation of the chroma plane of YIQ, the
saturation a blend with the image's grey, the contrast a blend with its mean grey, the
brightness a scale), so they compose into one 3x3 matrix and an offset per image and cost one
batched matrix product. The result is clamped to [0, 1] once, at the end (torchvision clamps
after each step and shuffles their order).

It takes absolute colour away as a cue, so that what a network learns of a person's front and
back is less tied to the clothes and hair of the people it trained on (docs/notes/left_right.md).

`TextureJitter` blurs or sharpens each image by its own amount (``x + a (x - blur(x))`` with a
Gaussian blur of one pixel, ``a`` uniform in ``[-s, s]``: -1 is the blur itself, +1 doubles the
fine detail) and adds Gaussian noise of its own spread, so that a network does not learn the
sharpness and grain of one camera: trained on video frames alone, the CPN read a third of the
people in sharper stills, or in the same frames blurred by 0.7 px, with left and right swapped
(docs/notes/left_right.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# RGB -> grey (ITU-R 601 luma, as torchvision's rgb_to_grayscale)
LUMA = (0.299, 0.587, 0.114)
# RGB -> YIQ (rows Y, I, Q)
_YIQ = (
    (0.299, 0.587, 0.114),
    (0.595716, -0.274453, -0.321263),
    (0.211456, -0.522591, 0.311135),
)


@dataclass(frozen=True)
class ColourJitter:
    """Per-image colour jitter ranges (0 = that step off). brightness, contrast, saturation:
    factors uniform in ``[1 - v, 1 + v]``, v in [0, 1]; hue: a turn uniform in ``[-h, h]``
    of the colour circle, h in [0, 0.5]."""

    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0

    def __post_init__(self) -> None:
        for name in ("brightness", "contrast", "saturation"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"colour jitter {name} {value}: expected a number in [0, 1]")
        if not (math.isfinite(self.hue) and 0.0 <= self.hue <= 0.5):
            raise ValueError(f"colour jitter hue {self.hue}: expected a number in [0, 0.5]")

    @property
    def active(self) -> bool:
        return any((self.brightness, self.contrast, self.saturation, self.hue))


def _uniform(n: int, half_width: float, centre: float, gen: torch.Generator) -> torch.Tensor:
    return centre + half_width * (2.0 * torch.rand(n, generator=gen, dtype=torch.float64) - 1.0)


def colour_maps(
    images: torch.Tensor, jitter: ColourJitter, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-image affine colour maps of a batch, ``out = A @ rgb + b``.

    Shapes: images (N, 3, H, W) float in [0, 1] -> (A (N, 3, 3), b (N, 3)) float64 on the CPU.
    """
    n = images.shape[0]
    eye = torch.eye(3, dtype=torch.float64).expand(n, 3, 3)
    luma = torch.tensor(LUMA, dtype=torch.float64)
    grey_rows = luma.expand(3, 3)  # every output channel takes the grey
    yiq = torch.tensor(_YIQ, dtype=torch.float64)
    # the draws always happen in this order, whatever is off, so the stream is fixed by `gen`
    turn = _uniform(n, jitter.hue, 0.0, gen) * 2.0 * math.pi
    sat = _uniform(n, jitter.saturation, 1.0, gen).clamp_min(0.0)
    con = _uniform(n, jitter.contrast, 1.0, gen).clamp_min(0.0)
    bri = _uniform(n, jitter.brightness, 1.0, gen).clamp_min(0.0)
    cos, sin = torch.cos(turn), torch.sin(turn)
    rot = torch.zeros(n, 3, 3, dtype=torch.float64)
    rot[:, 0, 0] = 1.0
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    hue_map = torch.linalg.inv(yiq) @ rot @ yiq
    sat_map = sat[:, None, None] * eye + (1.0 - sat)[:, None, None] * grey_rows
    linear = sat_map @ hue_map
    # contrast blends with the mean grey of the image as it is after hue and saturation
    mean_rgb = images.detach().double().mean(dim=(2, 3)).cpu()  # (N, 3)
    mean_grey = (linear @ mean_rgb[:, :, None])[:, :, 0] @ luma  # (N,)
    linear = con[:, None, None] * linear
    offset = ((1.0 - con) * mean_grey)[:, None].expand(n, 3)
    return bri[:, None, None] * linear, bri[:, None] * offset


def jitter_colours(
    images: torch.Tensor, jitter: ColourJitter, gen: torch.Generator
) -> torch.Tensor:
    """`images` with each image's colours jittered (`colour_maps`), clamped to [0, 1]; the
    input itself when `jitter` is all off. Shapes: (N, 3, H, W) float -> same, same dtype."""
    if not jitter.active or images.shape[0] == 0:
        return images
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images: expected shape (N, 3, H, W), got {tuple(images.shape)}")
    linear, offset = colour_maps(images, jitter, gen)
    linear = linear.to(images.device, images.dtype)
    offset = offset.to(images.device, images.dtype)
    out = torch.einsum("nij,njhw->nihw", linear, images) + offset[:, :, None, None]
    return out.clamp_(0.0, 1.0)


@dataclass(frozen=True)
class TextureJitter:
    """Per-image texture jitter ranges (0 = that step off). sharpness: ``a`` uniform in
    ``[-s, s]``, s in [0, 1] (the module's docstring); noise: a Gaussian noise spread uniform in
    ``[0, n]`` of the [0, 1] range, n in [0, 0.2]."""

    sharpness: float = 0.0
    noise: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sharpness) and 0.0 <= self.sharpness <= 1.0):
            raise ValueError(
                f"texture jitter sharpness {self.sharpness}: expected a number in [0, 1]"
            )
        if not (math.isfinite(self.noise) and 0.0 <= self.noise <= 0.2):
            raise ValueError(f"texture jitter noise {self.noise}: expected a number in [0, 0.2]")

    @property
    def active(self) -> bool:
        return bool(self.sharpness or self.noise)


def gaussian_blur(images: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Each channel blurred by a separable Gaussian (cut at 2 sigma, borders reflected).
    Shapes: (N, C, H, W) float -> same."""
    radius = max(1, math.ceil(2.0 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    out = F.pad(images, (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def jitter_texture(
    images: torch.Tensor, jitter: TextureJitter, gen: torch.Generator
) -> torch.Tensor:
    """`images` with each image blurred or sharpened and given noise of its own (`TextureJitter`),
    clamped to [0, 1]; the input itself when `jitter` is all off. The draws come from `gen` (on
    the CPU) in a fixed order. Shapes: (N, 3, H, W) float in [0, 1] -> same, same dtype."""
    if not jitter.active or images.shape[0] == 0:
        return images
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images: expected shape (N, 3, H, W), got {tuple(images.shape)}")
    n = images.shape[0]
    amount = _uniform(n, jitter.sharpness, 0.0, gen).to(images.device, images.dtype)
    spread = (jitter.noise * torch.rand(n, generator=gen, dtype=torch.float64)).to(
        images.device, images.dtype
    )
    noise = torch.randn(images.shape, generator=gen, dtype=images.dtype).to(images.device)
    detail = images - gaussian_blur(images)
    out = images + amount.view(n, 1, 1, 1) * detail + spread.view(n, 1, 1, 1) * noise
    return out.clamp_(0.0, 1.0)
