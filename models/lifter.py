"""The 2D-to-3D lifter of Martinez et al. 2017 ("A simple yet effective baseline").

A linear layer to width d, N residual blocks of two [linear d, batch norm, ReLU, dropout], and a
linear output. Input: standardised 2D of the kept joints (2 * len(input_joints)), then with
`LifterConfig.floor_input` the ankles' floor inverse depths (pose3d.lifting.floor); output:
standardised 3D of the num_joints - 1 non-root joints (see pose3d.lifting.normalization).

Max-norm, two forms (`LifterConfig.max_norm_mode`):
- ``"forward"`` (the reference implementation's): every forward pass uses
  ``W * min(1, c / ||W||_F)`` in place of ``W``; the stored matrix is free, the product uses the
  clipped one and gradients flow through the clip (like ``tf.clip_by_norm``). The effective
  weight's norm is then <= c at every step, and the stored weight's growth shrinks the effective
  step size, a weight-normalisation effect.
- ``"post_step"``: ``max_norm_step_()`` rescales each stored matrix to norm <= c after every
  optimiser step (the classic constraint). With Adam's per-element steps of about ``lr`` on
  entries of about 1e-3 this moves the weights too much relative to their size; measured on real
  data it stalled near 103 mm where the forward form reached 49 mm.
Biases are never constrained; ``c`` is `max_norm_value`, norms are Frobenius norms of whole matrices.

Block matmuls (`LifterConfig.matmul_dtype`): ``"bfloat16"`` runs the width x width products of the
residual blocks, forward and backward, on bfloat16 copies of their inputs and weights (the stored
weights, biases, batch norm, the optimiser and the first and last layers stay float32; the first
layer keeps the 2D input exact, the last the 3D output). Each product is rounded by about 0.4%.
Measured on real Human3.6M (2 cores with AVX512-BF16, 6 epochs): the same accuracy per epoch as
float32 (43.9 against 43.8 mm P1) at 2.1 times the training samples per second. On CPUs without
native bfloat16 the products are emulated and slower: keep float32 there.

Dropout follows ReLU as in nn.Dropout (inverted: kept entries are scaled by 1 / (1 - p)); its mask
comes from 16-bit slices of 64-bit random words (`keep_mask`), 2.5 times cheaper on CPU than
``torch.rand`` and 4.5 times cheaper than ``bernoulli_``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pose3d.config import LifterConfig
from pose3d.lifting.floor import FLOOR_JOINTS
from pose3d.lifting.normalization import resolve_input_joints

MAX_NORM_MODES = ("forward", "post_step")
MATMUL_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def check_config(cfg: LifterConfig) -> None:
    """Raise ValueError naming the field when the configuration cannot build a model."""
    if cfg.max_norm_mode not in MAX_NORM_MODES:
        raise ValueError(f"max_norm_mode {cfg.max_norm_mode!r}: expected one of {MAX_NORM_MODES}")
    if cfg.width < 1 or cfg.num_blocks < 0 or cfg.num_joints < 2:
        raise ValueError(f"width, num_blocks, num_joints out of range in {cfg}")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ValueError(f"dropout {cfg.dropout}: expected a probability in [0, 1)")
    if cfg.matmul_dtype not in MATMUL_DTYPES:
        raise ValueError(
            f"matmul_dtype {cfg.matmul_dtype!r}: expected one of {list(MATMUL_DTYPES)}"
        )
    if cfg.max_norm_value <= 0:
        raise ValueError(f"max_norm_value {cfg.max_norm_value}: expected > 0")
    resolve_input_joints(cfg.input_joints, cfg.num_joints)


class _ClippedLinear(torch.autograd.Function):
    """``y = s (x W^T) + b`` with ``s = min(1, c / ||W||_F)``, gradients through ``s`` included.

    Same values and gradients as autograd on ``F.linear(x, W * s, b)``, but the backward folds the
    norm's gradient into the weight gradient: with ``Z = x W^T`` and ``G = dL/dy``,
    ``dL/dW = s G^T x - (s / ||W||^2) <G, Z> W`` when clipped (``s < 1``), else ``G^T x``.
    The three products run in `dtype`, their results and the rest in the weight's dtype. The
    scale stays a tensor, so a GPU is never synchronised with the host here; on the CPU, where
    reading a scalar costs nothing, the backward skips the norm's term when nothing is clipped.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, c: float,
        dtype: torch.dtype,
    ) -> torch.Tensor:  # fmt: skip
        norm = torch.linalg.vector_norm(weight)
        scale = torch.clamp(c / norm.double(), max=1.0)  # in float64, as the host would; 1 for 0
        x_lp, w_lp = x.to(dtype), weight.to(dtype)
        z = (x_lp @ w_lp.t()).to(weight.dtype)
        ctx.save_for_backward(x_lp, w_lp, weight, z, norm, scale)
        return torch.addcmul(bias, z, scale.to(z.dtype))

    @staticmethod
    def backward(
        ctx: Any, *grads: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None, None]:
        (g,) = grads
        x_lp, w_lp, weight, z, norm, scale = ctx.saved_tensors
        gs = (g * scale.to(g.dtype)).to(w_lp.dtype)
        grad_x = (gs @ w_lp).to(weight.dtype)
        grad_w = (gs.t() @ x_lp).to(weight.dtype)
        if weight.device.type == "cpu":
            if float(scale) < 1.0:
                dot = float(torch.dot(g.reshape(-1), z.reshape(-1)))
                beta = -dot * float(scale) / float(norm) ** 2
                grad_w.add_(weight, alpha=beta)
        else:  # no host synchronisation: the norm's term times 0 where nothing is clipped
            beta = (
                -torch.dot(g.reshape(-1), z.reshape(-1)) * scale / norm.double() ** 2 * (scale < 1)
            )
            grad_w.add_(weight * beta.to(weight.dtype))
        return grad_x, grad_w, g.sum(0), None, None


class ConstrainedLinear(nn.Linear):
    """nn.Linear whose weight is clipped to a Frobenius norm in the forward pass (or not at all)."""

    def __init__(
        self, n_in: int, n_out: int, max_norm: float | None, dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__(n_in, n_out)
        self.max_norm = max_norm
        self.matmul_dtype = dtype  # of the product (see _ClippedLinear); the weights stay float32
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")
        nn.init.zeros_(self.bias)

    def effective_weight(self) -> torch.Tensor:
        """The matrix used in the product, ``W * min(1, c / ||W||_F)``. Shapes: (n_out, n_in)."""
        if self.max_norm is None:
            return self.weight
        norm = torch.linalg.vector_norm(self.weight)
        return self.weight * torch.clamp(self.max_norm / norm, max=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dt = self.matmul_dtype
        if self.max_norm is None:
            if dt == torch.float32:
                return F.linear(x, self.weight, self.bias)
            return F.linear(x.to(dt), self.weight.to(dt)).to(self.weight.dtype) + self.bias
        out: torch.Tensor = _ClippedLinear.apply(x, self.weight, self.bias, self.max_norm, dt)
        return out


def keep_mask(shape: torch.Size, p: float, device: torch.device | None = None) -> torch.Tensor:
    """A bool mask, each entry True with probability 1 - p (resolution 2**-15).

    Draws 64 random bits per 4 entries from torch's global generator and keeps 15 bits of each
    16 (``random_`` on int64 fills [0, 2**63), so the top bit of each word is always 0).
    """
    n = math.prod(shape)
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device)
    bits = words.random_().view(torch.int16)[:n]
    return (bits.bitwise_and_(0x7FFF) >= round(p * 32768)).view(shape)


class _ReluDropout(torch.autograd.Function):
    """``relu(x) * keep / (1 - p)`` with a fresh `keep_mask`: ReLU then inverted dropout (the
    semantics of nn.Dropout), saving one bool mask for the backward pass instead of two."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, p: float) -> torch.Tensor:
        keep = keep_mask(x.shape, p, x.device).logical_and_(x > 0)
        ctx.save_for_backward(keep)
        ctx.scale = 1.0 / (1.0 - p)
        return torch.mul(x, keep).mul_(ctx.scale)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor, None]:
        (keep,) = ctx.saved_tensors
        return torch.mul(grads[0], keep).mul_(ctx.scale), None


class Layer(nn.Module):
    """Linear, batch norm, ReLU, dropout."""

    def __init__(
        self, n_in: int, n_out: int, cfg: LifterConfig, clip: float | None,
        dtype: torch.dtype = torch.float32,
    ) -> None:  # fmt: skip
        super().__init__()
        self.linear = ConstrainedLinear(n_in, n_out, clip, dtype)
        self.norm = nn.BatchNorm1d(n_out) if cfg.batch_norm else nn.Identity()
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout_relu(self.norm(self.linear(x)))

    def dropout_relu(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU, then (training only) inverted dropout with probability ``cfg.dropout``."""
        if not self.training or self.dropout == 0.0:
            return F.relu(x)
        out: torch.Tensor = _ReluDropout.apply(x, self.dropout)
        return out


class Block(nn.Module):
    """Two layers of width d, with an optional residual connection."""

    def __init__(self, cfg: LifterConfig, clip: float | None) -> None:
        super().__init__()
        self.residual = cfg.residual
        dt = MATMUL_DTYPES[cfg.matmul_dtype]
        self.layers = nn.Sequential(
            Layer(cfg.width, cfg.width, cfg, clip, dt), Layer(cfg.width, cfg.width, cfg, clip, dt)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        return x + y if self.residual else y


class Lifter(nn.Module):
    """Martinez et al. 2017 residual MLP. Shapes: (B, 2 * J_in) -> (B, 3 * (J - 1))."""

    def __init__(self, cfg: LifterConfig) -> None:
        super().__init__()
        check_config(cfg)
        self.cfg = cfg
        joints_in = len(resolve_input_joints(cfg.input_joints, cfg.num_joints))
        self.in_dim = 2 * joints_in + (len(FLOOR_JOINTS) if cfg.floor_input else 0)
        self.out_dim = 3 * (cfg.num_joints - 1)
        clip = cfg.max_norm_value if cfg.max_norm and cfg.max_norm_mode == "forward" else None
        self.stem = Layer(self.in_dim, cfg.width, cfg, clip)
        self.blocks = nn.Sequential(*(Block(cfg, clip) for _ in range(cfg.num_blocks)))
        self.head = ConstrainedLinear(cfg.width, self.out_dim, clip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(
                f"lifter input: expected shape (B, {self.in_dim}), got {tuple(x.shape)}"
            )
        return self.head(self.blocks(self.stem(x)))

    def linears(self) -> list[ConstrainedLinear]:
        return [m for m in self.modules() if isinstance(m, ConstrainedLinear)]

    @torch.no_grad()
    def effective_weight_norms(self) -> list[float]:
        """Frobenius norm of each linear layer's effective weight, input to output."""
        return [float(torch.linalg.vector_norm(m.effective_weight())) for m in self.linears()]

    @torch.no_grad()
    def max_norm_step_(self) -> None:
        """The post-step form: rescale stored weights to norm <= c (no-op unless configured)."""
        if not (self.cfg.max_norm and self.cfg.max_norm_mode == "post_step"):
            return
        for m in self.linears():
            norm = torch.linalg.vector_norm(m.weight)
            m.weight.mul_(torch.clamp(self.cfg.max_norm_value / norm, max=1.0))

    def matmul_flops_per_sample(self) -> int:
        """Multiply-add FLOPs of the linear layers for one sample, forward only (2 per MAC)."""
        return sum(2 * m.in_features * m.out_features for m in self.linears())
