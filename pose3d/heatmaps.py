"""Keypoint heatmaps of the 2D network: Gaussian targets, argmax decoding and the flip test.

Heatmaps have ``stride`` times fewer pixels than the network's input (stride 4: 56 x 56 for a
224 x 224 crop). Coordinates: heatmap cell ``(u, v)`` sits on input pixel
``(stride * u, stride * v)``, both with integer pixel centres, i.e. ``x_heatmap = x_input / stride``
(`input_to_heatmap_px`, `heatmap_to_input_px`). This is where a ResNet's stride-2 layers with
``(k - 1) / 2`` padding put their output cells, and the targets and the decoding below share it.

- `gaussian_heatmaps`: an unnormalised Gaussian (peak 1) per joint, sigma in heatmap pixels;
  joints not visible (or not finite) get an all-zero map.
- `decode_heatmaps`: the argmax per joint, then a sub-pixel step. ``quarter``: a quarter pixel
  toward the higher of its two neighbours along x and along y (the CPN / SimpleBaseline
  decoding). ``dark``: the distribution-aware step of Zhang et al. (CVPR 2020): the map is
  smoothed with the Gaussian of its targets, and one Newton step on its logarithm from the argmax
  (gradient and Hessian by central differences) finds the Gaussian's centre. The score is the
  peak value either way.
- `flip_heatmaps`: the heatmaps of a mirrored image, mirrored back with left and right joints
  swapped (`pose3d.skeleton.flip_lr`), for the flip test. Mirroring an input of width
  ``stride * W`` sends ``x`` to ``stride * W - 1 - x``, and reversing a heatmap row sends ``u`` to
  ``W - 1 - u``: the two differ by `flip_offset_heatmap_px` (3/4 heatmap pixel at stride 4),
  to be added to x positions decoded from flipped-back heatmaps (or to shift them by one pixel,
  as SimpleBaseline does, before averaging).
"""

from __future__ import annotations

import numpy as np

from pose3d.config import CPN_DECODERS
from pose3d.skeleton import NUM_JOINTS, flip_lr


def _heatmap_size(input_size: int | tuple[int, int], stride: int) -> tuple[int, int]:
    """(width, height) of the heatmaps of an input of `input_size` (side, or (width, height))."""
    if stride <= 0:
        raise ValueError(f"stride {stride}: expected a positive integer")
    width, height = (input_size, input_size) if isinstance(input_size, int) else input_size
    if width <= 0 or height <= 0 or width % stride or height % stride:
        raise ValueError(f"input_size {input_size}: expected positive multiples of stride {stride}")
    return width // stride, height // stride


def input_to_heatmap_px(kp_input_px: np.ndarray, stride: int) -> np.ndarray:
    """Input (crop) pixels to heatmap pixels. Shapes: (..., 2) -> (..., 2)."""
    return np.asarray(kp_input_px, dtype=np.float64) / stride


def heatmap_to_input_px(kp_heatmap_px: np.ndarray, stride: int) -> np.ndarray:
    """Heatmap pixels to input (crop) pixels. Shapes: (..., 2) -> (..., 2)."""
    return np.asarray(kp_heatmap_px, dtype=np.float64) * stride


def gaussian_heatmaps(
    kp_crop_px: np.ndarray,
    visible: np.ndarray,
    input_size: int | tuple[int, int],
    stride: int = 4,
    sigma: float = 2.0,
) -> np.ndarray:
    """Gaussian target heatmaps, peak 1 at each visible joint, sigma in heatmap pixels.

    Shapes: kp_crop_px (..., J, 2) input px, visible (..., J) bool -> (..., J, H, W) float32,
    ``(W, H) = input_size / stride``.
    """
    kp = np.asarray(kp_crop_px, dtype=np.float64)
    visible = np.asarray(visible, dtype=bool)
    if kp.ndim < 2 or kp.shape[-1] != 2:
        raise ValueError(f"kp_crop_px: expected shape (..., J, 2), got {kp.shape}")
    if visible.shape != kp.shape[:-1]:
        raise ValueError(f"visible: expected shape {kp.shape[:-1]}, got {visible.shape}")
    if not sigma > 0:
        raise ValueError(f"sigma {sigma}: expected > 0 (heatmap pixels)")
    width, height = _heatmap_size(input_size, stride)
    kp_hm = input_to_heatmap_px(kp, stride)
    keep = visible & np.all(np.isfinite(kp_hm), axis=-1)
    kp_hm = np.where(keep[..., None], kp_hm, 0.0)
    gx = np.exp(-((np.arange(width) - kp_hm[..., 0:1]) ** 2) / (2 * sigma**2))  # (..., J, W)
    gy = np.exp(-((np.arange(height) - kp_hm[..., 1:2]) ** 2) / (2 * sigma**2))  # (..., J, H)
    maps = gy[..., :, None] * gx[..., None, :] * keep[..., None, None]
    return maps.astype(np.float32)


def decode_heatmaps(
    heatmaps: np.ndarray, method: str = "quarter", sigma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Argmax of each heatmap plus the sub-pixel step of `method` (``quarter`` or ``dark``, the
    module's docstring); `sigma` (heatmap pixels) is the targets' Gaussian, used by ``dark``.

    Shapes: heatmaps (N, J, H, W) -> (kp_heatmap_px (N, J, 2) as (x, y), scores (N, J)).
    """
    maps = np.asarray(heatmaps, dtype=np.float64)
    if maps.ndim != 4 or maps.shape[2] == 0 or maps.shape[3] == 0:
        raise ValueError(f"heatmaps: expected shape (N, J, H, W), got {maps.shape}")
    if method not in CPN_DECODERS:
        raise ValueError(f"decode method {method!r}: expected one of {', '.join(CPN_DECODERS)}")
    n, j, height, width = maps.shape
    flat = maps.reshape(n * j, height * width)
    best = np.argmax(flat, axis=1)
    scores = flat[np.arange(n * j), best]
    y, x = np.divmod(best, width)
    rows = maps.reshape(n * j, height, width)
    kp = np.stack([x, y], axis=-1).astype(np.float64)
    if method == "dark":
        kp += _dark_step(rows, x, y, sigma)
    else:
        kp += _quarter_step(rows, x, y)
    return kp.reshape(n, j, 2), scores.reshape(n, j)


def _quarter_step(rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A quarter pixel toward the higher neighbour, per axis; none on the border. Shapes: rows
    (M, H, W), x (M,), y (M,) -> (M, 2)."""
    _, height, width = rows.shape
    idx = np.arange(len(rows))
    inner_x = (x > 0) & (x < width - 1)
    inner_y = (y > 0) & (y < height - 1)
    xr, xl = np.minimum(x + 1, width - 1), np.maximum(x - 1, 0)
    yd, yu = np.minimum(y + 1, height - 1), np.maximum(y - 1, 0)
    step_x = 0.25 * np.sign(rows[idx, y, xr] - rows[idx, y, xl]) * inner_x
    step_y = 0.25 * np.sign(rows[idx, yd, x] - rows[idx, yu, x]) * inner_y
    return np.stack([step_x, step_y], axis=-1)


def _gaussian_blur_matrix(size: int, sigma: float) -> np.ndarray:
    """(size, size) matrix that convolves a line with a Gaussian cut at 3 sigma, zeros beyond the
    ends (unnormalised: a scale does not move the log's derivatives)."""
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    return np.exp(-0.5 * (offsets / sigma) ** 2) * (np.abs(offsets) <= 3 * sigma)


def _dark_step(rows: np.ndarray, x: np.ndarray, y: np.ndarray, sigma: float) -> np.ndarray:
    """The Newton step on the log of the smoothed map at (x, y), at most one pixel per axis;
    none where the point is within one pixel of the border or the log is not concave there.
    Shapes: rows (M, H, W), x (M,), y (M,) -> (M, 2)."""
    if sigma <= 0:
        raise ValueError(f"sigma {sigma}: expected > 0 heatmap pixels")
    _, height, width = rows.shape
    smooth = _gaussian_blur_matrix(height, sigma) @ rows @ _gaussian_blur_matrix(width, sigma).T
    logs = np.log(np.maximum(smooth, 1e-10))
    idx = np.arange(len(rows))
    xc, yc = np.clip(x, 1, width - 2), np.clip(y, 1, height - 2)

    def at(dy: int, dx: int) -> np.ndarray:
        return logs[idx, yc + dy, xc + dx]

    gx, gy = 0.5 * (at(0, 1) - at(0, -1)), 0.5 * (at(1, 0) - at(-1, 0))
    hxx = at(0, 1) - 2 * at(0, 0) + at(0, -1)
    hyy = at(1, 0) - 2 * at(0, 0) + at(-1, 0)
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = hxx * hyy - hxy**2
    ok = (x == xc) & (y == yc) & (hxx < 0) & (det > 1e-12)
    safe = np.where(ok, det, 1.0)
    step_x = np.where(ok, -(hyy * gx - hxy * gy) / safe, 0.0)
    step_y = np.where(ok, -(hxx * gy - hxy * gx) / safe, 0.0)
    return np.clip(np.stack([step_x, step_y], axis=-1), -1.0, 1.0)


def flip_heatmaps(heatmaps: np.ndarray) -> np.ndarray:
    """Mirror heatmaps left-right and swap the left and right joints' channels (H36M-17).

    Shapes: (..., 17, H, W) -> (..., 17, H, W).
    """
    maps = np.asarray(heatmaps)
    if maps.ndim < 3 or maps.shape[-3] != NUM_JOINTS:
        raise ValueError(f"heatmaps: expected shape (..., {NUM_JOINTS}, H, W), got {maps.shape}")
    permutation = flip_lr(np.arange(NUM_JOINTS)[:, None])[:, 0]
    return maps[..., permutation, :, ::-1].copy()


def flip_offset_heatmap_px(stride: int) -> float:
    """What to add to x decoded from flipped-back heatmaps: ``1 - 1 / stride`` heatmap pixels."""
    if stride <= 0:
        raise ValueError(f"stride {stride}: expected a positive integer")
    return 1.0 - 1.0 / stride
