"""Losses of the lifter, on standardised 3D (`pose3d.lifting.normalization`).

- ``mse``: the mean squared error of the standardised coordinates (Martinez et al. 2017);
- ``l1``: their mean absolute error;
- ``mpjpe``: the mean per-joint position error in millimetres: the standardisation is undone
  with the 3D standard deviations (`std_3d`) before the joint distances are taken.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

LOSSES = ("mse", "l1", "mpjpe")
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def lifter_loss(name: str, std_3d: np.ndarray, device: torch.device | None = None) -> LossFn:
    """The loss `name` of predicted and target standardised 3D.

    Shapes: std_3d (3 (J - 1),); the loss takes (B, 3 (J - 1)) twice and returns a scalar.
    Raises ValueError on an unknown name."""
    if name == "mse":
        return lambda p, t: torch.mean((p - t) ** 2)
    if name == "l1":
        return lambda p, t: torch.mean(torch.abs(p - t))
    if name != "mpjpe":
        raise ValueError(f"loss {name!r}: expected one of {LOSSES}")
    std = torch.tensor(std_3d, dtype=torch.float32, device=device)
    return lambda p, t: torch.mean(
        torch.linalg.vector_norm(((p - t) * std).reshape(len(p), -1, 3), dim=-1)
    )
