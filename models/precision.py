"""Numeric precision on the device at hand, shared by every network: whether bfloat16 is native,
and bfloat16 autocast where it is (the detector, the CPN and the lifter each decide whether to
ask for it; nothing here knows one network from another)."""

from __future__ import annotations

import contextlib
from typing import Any

import torch


def bfloat16_is_native() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (oneDNN with AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def use_bf16(device: torch.device, bf16: bool) -> bool:
    """Whether to run under bfloat16 autocast: asked for, and native on this device."""
    if not bf16:
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bfloat16_is_native()


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast on `device` when `use_bf16`, else nothing."""
    if use_bf16(device, bf16):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
