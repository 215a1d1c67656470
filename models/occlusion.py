"""Synthetic occlusion for training crops, drawn for a whole batch at once.

Each crop, with probability ``probability``, gets from one to ``max_shapes`` opaque shapes
pasted over it: rectangles, ellipses and stadiums (a segment grown by a radius, limb-like),
each turned by its own angle, of its own colour with a faint linear shading, at a uniform place
in the crop and with half-sizes of `HALF_SIZE` of the crop's side. The heatmap targets are left
as they are, so the network learns to place a joint it cannot see from the rest of the body.

This is the synthetic occlusion augmentation of Sárándi et al. 2018 ("How robust is 3D human
pose estimation to occlusion?", the winning entry of the same ECCV 2018 PoseTrack 3D challenge),
with drawn shapes in place of their cut-out objects. In this project's world a quarter of the
challenge stills have an object in front of the person and half have a cluttered lab behind it,
and the CPN trained on the video frames alone read the occluded stills 2 px worse than the rest
(docs/notes/left_right.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

HALF_SIZE = (0.08, 0.35)  # a shape's half-width and half-height, fractions of the crop's side
SHADE = 0.15  # largest change of brightness across a shape, in [0, 1] units
KINDS = ("rectangle", "ellipse", "stadium")


@dataclass(frozen=True)
class Occlusion:
    """probability: the share of crops given occluders, in [0, 1]; max_shapes: the largest
    number of shapes on one crop (each such crop gets 1..max_shapes), in [0, 8]."""

    probability: float = 0.0
    max_shapes: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.probability) and 0.0 <= self.probability <= 1.0):
            raise ValueError(f"occlusion probability {self.probability}: expected [0, 1]")
        if int(self.max_shapes) != self.max_shapes or not 0 <= self.max_shapes <= 8:
            raise ValueError(f"occlusion max_shapes {self.max_shapes}: expected an integer 0..8")

    @property
    def active(self) -> bool:
        return self.probability > 0.0 and self.max_shapes > 0


def occluder_layers(
    n: int, height: int, width: int, occlusion: Occlusion, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The shapes of a batch, drawn from `gen` (on the CPU) in a fixed order.

    Shapes: -> (masks (N, K, H, W) bool, values (N, K, 3, H, W) float32 in [0, 1]) with
    K = ``max_shapes``; a slot a crop does not use has an empty mask. Pixel (x, y) is the crop
    pixel whose centre is at (x, y).
    """
    k = int(occlusion.max_shapes)
    used = torch.rand(n, generator=gen, dtype=torch.float64) < occlusion.probability
    count = torch.randint(1, k + 1, (n,), generator=gen)
    active = used[:, None] & (torch.arange(k)[None, :] < count[:, None])
    side = float(max(height, width))
    centre = torch.rand(n, k, 2, generator=gen, dtype=torch.float64) * torch.tensor(
        [width, height], dtype=torch.float64
    )
    lo, hi = HALF_SIZE
    half = (lo + (hi - lo) * torch.rand(n, k, 2, generator=gen, dtype=torch.float64)) * side
    angle = torch.rand(n, k, generator=gen, dtype=torch.float64) * math.pi
    kind = torch.randint(0, len(KINDS), (n, k), generator=gen)
    colour = torch.rand(n, k, 3, generator=gen, dtype=torch.float64)
    shade = SHADE * (2.0 * torch.rand(n, k, generator=gen, dtype=torch.float64) - 1.0)

    xs = torch.arange(width, dtype=torch.float64).view(1, 1, 1, width)
    ys = torch.arange(height, dtype=torch.float64).view(1, 1, height, 1)
    dx = xs - centre[..., 0, None, None]
    dy = ys - centre[..., 1, None, None]
    cos, sin = torch.cos(angle)[..., None, None], torch.sin(angle)[..., None, None]
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos  # (N, K, H, W) in the shape's own axes
    hx, hy = half[..., 0, None, None], half[..., 1, None, None]
    rectangle = (u.abs() <= hx) & (v.abs() <= hy)
    ellipse = (u / hx) ** 2 + (v / hy) ** 2 <= 1.0
    along = u - u.clamp(-hx, hx)  # a segment of half-length hx, grown by hy / 2
    stadium = along**2 + v**2 <= (hy / 2.0) ** 2
    kind = kind[..., None, None]
    mask = torch.where(kind == 0, rectangle, torch.where(kind == 1, ellipse, stadium))
    mask &= active[..., None, None]
    values = colour[..., None, None] + (shade[..., None, None] * u / hx)[:, :, None]
    return mask, values.clamp(0.0, 1.0).float()


def paste_occluders(
    images: torch.Tensor, occlusion: Occlusion, gen: torch.Generator
) -> torch.Tensor:
    """`images` with occluders pasted over a share of them (`occluder_layers`); the input itself
    when `occlusion` is off. Shapes: (N, 3, H, W) float in [0, 1] -> same, same dtype."""
    if not occlusion.active or images.shape[0] == 0:
        return images
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images: expected shape (N, 3, H, W), got {tuple(images.shape)}")
    n, _, h, w = images.shape
    masks, values = occluder_layers(n, h, w, occlusion, gen)
    masks = masks.to(images.device)
    values = values.to(images.device, images.dtype)
    out = images
    for j in range(masks.shape[1]):  # later shapes in front of earlier ones
        out = torch.where(masks[:, j, None], values[:, j], out)
    return out
