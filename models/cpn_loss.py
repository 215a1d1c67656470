"""Losses of the Cascaded Pyramid Network (`models.cpn`), computed in float32.

- `global_loss`: on each GlobalNet level, the squared error to that level's Gaussian targets
  (wider for coarser levels, see `CPNConfig.global_sigmas`), averaged over pixels and over the
  visible joints; summed over the levels.
- `refine_loss`: the per-joint squared error of the RefineNet heatmaps (averaged over pixels),
  with online hard keypoint mining: per sample, the mean of the `top_k` largest per-joint losses
  among its visible joints (fewer when fewer are visible; 0 for a sample with none); then the
  mean over samples.
- `cpn_loss`: their sum.

Targets are inputs (built with `pose3d.heatmaps.gaussian_heatmaps`); `visible` is a (N, J) bool
or 0/1 tensor. Predictions may be bfloat16 (autocast) and channels_last; they are cast to float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def per_joint_l2(heatmaps: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of the squared error, in float32. Shapes: (N, J, H, W) x 2 -> (N, J)."""
    if heatmaps.shape != targets.shape or heatmaps.ndim != 4:
        raise ValueError(
            f"heatmaps {tuple(heatmaps.shape)} and targets {tuple(targets.shape)}: expected equal "
            "shapes (N, J, H, W)"
        )
    return (heatmaps.float() - targets.float()).square().mean(dim=(-2, -1))


def _visible_mask(visible: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    if tuple(visible.shape) != shape:
        raise ValueError(f"visible: expected shape {shape}, got {tuple(visible.shape)}")
    return visible.to(torch.float32)


def global_loss(
    global_heatmaps: Sequence[torch.Tensor],
    targets: torch.Tensor | Sequence[torch.Tensor],
    visible: torch.Tensor,
) -> torch.Tensor:
    """Sum over levels of the visible joints' mean per-joint L2.

    Shapes: global_heatmaps L x (N, J, H, W); targets (N, L, J, H, W) or L x (N, J, H, W);
    visible (N, J) -> scalar float32.
    """
    per_level = list(targets.unbind(dim=1)) if isinstance(targets, torch.Tensor) else list(targets)
    if len(per_level) != len(global_heatmaps) or not per_level:
        raise ValueError(
            f"targets: expected one per GlobalNet level ({len(global_heatmaps)}), got {len(per_level)}"
        )
    total = torch.zeros((), dtype=torch.float32, device=global_heatmaps[0].device)
    for heatmaps, target in zip(global_heatmaps, per_level, strict=True):
        losses = per_joint_l2(heatmaps, target)
        mask = _visible_mask(visible, (losses.shape[0], losses.shape[1]))
        total = total + (losses * mask).sum() / mask.sum().clamp(min=1.0)
    return total


def refine_loss(
    refine_heatmaps: torch.Tensor, targets: torch.Tensor, visible: torch.Tensor, top_k: int = 8
) -> torch.Tensor:
    """Online hard keypoint mining: per sample the mean of its `top_k` hardest visible joints'
    losses, then the mean over samples.

    Shapes: refine_heatmaps (N, J, H, W), targets (N, J, H, W), visible (N, J) -> scalar float32.
    """
    losses = per_joint_l2(refine_heatmaps, targets)
    if not 1 <= top_k <= losses.shape[1]:
        raise ValueError(f"top_k {top_k}: expected 1..{losses.shape[1]} (the number of joints)")
    mask = _visible_mask(visible, (losses.shape[0], losses.shape[1])) > 0
    ranked = torch.where(mask, losses, torch.full_like(losses, -torch.inf))
    hardest, _ = torch.topk(ranked, top_k, dim=1)
    kept = torch.isfinite(hardest)
    per_sample = torch.where(kept, hardest, torch.zeros_like(hardest)).sum(dim=1)
    return (per_sample / kept.sum(dim=1).clamp(min=1)).mean()


def cpn_loss(
    outputs: tuple[Sequence[torch.Tensor], torch.Tensor],
    global_targets: torch.Tensor | Sequence[torch.Tensor],
    refine_targets: torch.Tensor,
    visible: torch.Tensor,
    top_k: int = 8,
) -> torch.Tensor:
    """`global_loss` plus `refine_loss` of a CPN's outputs. Shapes: as those two; -> scalar."""
    global_heatmaps, refine_heatmaps = outputs
    return global_loss(global_heatmaps, global_targets, visible) + refine_loss(
        refine_heatmaps, refine_targets, visible, top_k
    )
