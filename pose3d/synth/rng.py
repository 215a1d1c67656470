"""Deterministic random streams keyed by names, independent of Python's salted ``hash``."""

from __future__ import annotations

import zlib

import numpy as np


def stable_key(key: str | int) -> int:
    """A non-negative integer for `key` that is the same in every process and Python run."""
    if isinstance(key, int):
        if key < 0:
            raise ValueError(f"random stream keys must be non-negative, got {key}")
        return key
    return zlib.crc32(key.encode("utf-8"))


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent generator for (seed, *keys): the same keys give the same stream."""
    return np.random.default_rng([stable_key(seed), *(stable_key(k) for k in keys)])
