"""Crop-and-resize (CR) of a person box to the 2D network's input, and its inverse (ICR).

A detection box becomes a square centred on it (`crop_box`), whose side is the box's longest
side times ``1 + margin``; the square is mapped onto an ``out_size x out_size`` crop by a 2x3
affine (`crop_transform`), optionally shifted, rotated and scaled for training (`CropJitter`).
Keypoints go into the crop with `to_crop` and back to the image with `from_crop` (ICR);
`crop_image` resamples the image with OpenCV, padding with a constant where the square leaves
the image. The "w.o. CR" variant resizes the whole image: `full_image_square` gives the square
that holds it (centred, letterboxed), and the same CR/ICR apply.

Pixel convention (OpenCV's): integer coordinates are pixel centres, pixel ``i`` covers
``[i - 0.5, i + 0.5]``. A square ``(cx, cy, side)`` covers ``[cx - side/2, cx + side/2]`` and
maps edge to edge onto the crop's ``[-0.5, out_size - 0.5]``, so its centre lands on the crop's
centre ``(out_size - 1) / 2``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Square:
    """A square region of an image, in image pixels: centre (cx, cy) and side length."""

    cx: float
    cy: float
    side: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cx) and math.isfinite(self.cy)):
            raise ValueError(f"square centre ({self.cx}, {self.cy}): expected finite numbers")
        if not (math.isfinite(self.side) and self.side > 0):
            raise ValueError(f"square side {self.side}: expected a finite number > 0")


@dataclass(frozen=True)
class CropJitter:
    """Training jitter of a crop: the square's centre moves by (`shift_x`, `shift_y`) times its
    side in the image (as a detector's box sits off the person's centre, so the person appears
    moved the other way in the crop); about that centre the crop's content appears turned
    counter-clockwise by `rotate_deg` degrees, and the square's side is multiplied by `scale`
    (``scale > 1`` takes in more of the image, so the person looks smaller)."""

    rotate_deg: float = 0.0
    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"jitter scale {self.scale}: expected a finite number > 0")
        if not math.isfinite(self.rotate_deg):
            raise ValueError(f"jitter rotate_deg {self.rotate_deg}: expected a finite number")
        if not (math.isfinite(self.shift_x) and math.isfinite(self.shift_y)):
            raise ValueError(
                f"jitter shift ({self.shift_x}, {self.shift_y}): expected finite numbers"
            )


NO_JITTER = CropJitter()


def _check_out_size(out_size: int) -> None:
    if not isinstance(out_size, int | np.integer) or out_size <= 0:
        raise ValueError(f"out_size {out_size!r}: expected a positive integer")


def crop_box(box_xyxy_px: np.ndarray, margin: float = 0.25) -> Square:
    """The square centred on a box, of side ``max(width, height) * (1 + margin)``.

    Shapes: box_xyxy_px (4,) as (x0, y0, x1, y1) px -> Square.
    """
    box = np.asarray(box_xyxy_px, dtype=np.float64)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        raise ValueError(f"box_xyxy_px {box_xyxy_px!r}: expected 4 finite numbers (x0, y0, x1, y1)")
    width, height = box[2] - box[0], box[3] - box[1]
    if width <= 0 or height <= 0:
        raise ValueError(f"box_xyxy_px {box.tolist()}: expected x1 > x0 and y1 > y0 (zero size)")
    if not (math.isfinite(margin) and margin > -1.0):
        raise ValueError(f"margin {margin}: expected a finite number > -1")
    side = max(width, height) * (1.0 + margin)
    return Square(float((box[0] + box[2]) / 2), float((box[1] + box[3]) / 2), float(side))


@dataclass(frozen=True)
class KeypointSquare:
    """How a person's label box sits around their keypoints, so that a box can be drawn again
    from keypoints alone (the route's refine passes): the box's longest side is `side_ratio`
    times the keypoints' extent (the longest side of the box around them), and its centre lies
    `offset_x`, `offset_y` times that extent from the extent's centre. Fitted once per CPN on its
    training frames (`fit_keypoint_square`) and stored in its checkpoint."""

    side_ratio: float
    offset_x: float
    offset_y: float

    def __post_init__(self) -> None:
        values = (self.side_ratio, self.offset_x, self.offset_y)
        if not all(math.isfinite(v) for v in values) or self.side_ratio <= 0:
            raise ValueError(f"keypoint square {values}: expected finite numbers, side_ratio > 0")


def _keypoint_extent(kp2d_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (N, 2) and longest side (N,) of the box around each row's finite keypoints (NaN
    where a row has none). Shapes: kp2d_px (N, J, 2)."""
    kp = np.asarray(kp2d_px, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[2] != 2:
        raise ValueError(f"kp2d_px {kp.shape}: expected (N, J, 2)")
    kp = np.where(np.isfinite(kp).all(axis=2, keepdims=True), kp, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN
        lo, hi = np.nanmin(kp, axis=1), np.nanmax(kp, axis=1)
    return (lo + hi) / 2, (hi - lo).max(axis=1)


def fit_keypoint_square(kp2d_px: np.ndarray, boxes_xyxy_px: np.ndarray) -> KeypointSquare:
    """The medians, over the rows with a usable box and keypoints of positive extent, of the
    box's longest side over the keypoints' extent and of the centres' offset in that extent.
    Shapes: kp2d_px (N, J, 2), boxes_xyxy_px (N, 4). Raises ValueError when no row is usable."""
    boxes = np.asarray(boxes_xyxy_px, dtype=np.float64).reshape(-1, 4)
    centre, extent = _keypoint_extent(kp2d_px)
    if len(boxes) != len(extent):
        raise ValueError(f"{len(boxes)} boxes for {len(extent)} rows of keypoints")
    with np.errstate(invalid="ignore"):
        side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        use = np.isfinite(boxes).all(axis=1) & (side > 0) & (extent > 0)
    if not use.any():
        raise ValueError("fit_keypoint_square: no row has both a box and keypoints of some extent")
    box_centre = (boxes[use, :2] + boxes[use, 2:]) / 2
    offset = np.median((box_centre - centre[use]) / extent[use, None], axis=0)
    ratio = float(np.median(side[use] / extent[use]))
    return KeypointSquare(ratio, float(offset[0]), float(offset[1]))


def box_from_keypoints(kp2d_px: np.ndarray, fit: KeypointSquare) -> np.ndarray:
    """The square box (x0, y0, x1, y1) px that `fit` draws around each row's keypoints, as the
    label box would sit (`crop_box` then adds the margin); NaN where a row's keypoints have no
    extent. Shapes: kp2d_px (N, J, 2) -> (N, 4)."""
    centre, extent = _keypoint_extent(kp2d_px)
    with np.errstate(invalid="ignore"):
        extent = np.where(extent > 0, extent, np.nan)
    middle = centre + np.array([fit.offset_x, fit.offset_y]) * extent[:, None]
    half = (fit.side_ratio * extent / 2)[:, None]
    return np.concatenate([middle - half, middle + half], axis=1)


def full_image_square(width: int, height: int) -> Square:
    """The square that holds a whole ``width x height`` image, centred on it (the "w.o. CR"
    variant: the image is resized as a whole, letterboxed along its shorter side)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size width={width}, height={height}: expected both > 0")
    return Square((width - 1) / 2, (height - 1) / 2, float(max(width, height)))


def crop_transform(square: Square, out_size: int, jitter: CropJitter = NO_JITTER) -> np.ndarray:
    """The affine from image pixels to crop pixels: ``q = A (p - c) + o`` with ``c`` the square's
    centre moved by the jitter's shift (``c + side * (shift_x, shift_y)``), ``o`` the crop's
    centre and ``A = out_size / (side * scale) * R(rotate_deg)``.

    Shapes: -> (2, 3) float64, applied as ``q = M[:, :2] @ p + M[:, 2]``.
    """
    _check_out_size(out_size)
    zoom = out_size / (square.side * jitter.scale)
    theta = math.radians(jitter.rotate_deg)
    cos, sin = math.cos(theta) * zoom, math.sin(theta) * zoom
    # y points down in images: (x, y) -> (x cos + y sin, -x sin + y cos) turns content
    # counter-clockwise on screen (a point right of the centre moves up).
    linear = np.array([[cos, sin], [-sin, cos]])
    centre_out = (out_size - 1) / 2
    centre = np.array([square.cx, square.cy]) + square.side * np.array(
        [jitter.shift_x, jitter.shift_y]
    )
    shift = np.array([centre_out, centre_out]) - linear @ centre
    return np.concatenate([linear, shift[:, None]], axis=1)


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """The inverse of 2x3 affines. Shapes: (..., 2, 3) -> (..., 2, 3)."""
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape[-2:] != (2, 3):
        raise ValueError(f"affine: expected shape (..., 2, 3), got {affine.shape}")
    linear_inv = np.linalg.inv(affine[..., :2])
    shift = -np.einsum("...ij,...j->...i", linear_inv, affine[..., 2])
    return np.concatenate([linear_inv, shift[..., None]], axis=-1)


def apply_affine(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Map points by 2x3 affines; one affine per leading index or one for all.

    Shapes: points (N, J, 2) with affine (N, 2, 3) or (2, 3); or points (J, 2) with (2, 3)
    -> same shape as points.
    """
    points = np.asarray(points, dtype=np.float64)
    affine = np.asarray(affine, dtype=np.float64)
    if points.shape[-1] != 2 or points.ndim < 2:
        raise ValueError(f"points: expected shape (..., J, 2), got {points.shape}")
    if affine.shape[-2:] != (2, 3) or affine.ndim not in (2, points.ndim):
        raise ValueError(f"affine: expected (2, 3) or one per pose, got {affine.shape}")
    linear = np.swapaxes(affine[..., :2], -1, -2)
    return points @ linear + affine[..., None, :, 2]


def to_crop(points_px: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """CR of keypoints: image px -> crop px, `affine` from `crop_transform`.

    Shapes: (N, J, 2) or (J, 2) px -> same shape, crop px.
    """
    return apply_affine(points_px, affine)


def from_crop(points_crop_px: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """ICR of keypoints: crop px -> image px, `affine` the image-to-crop one of `crop_transform`.

    Shapes: (N, J, 2) or (J, 2) crop px -> same shape, image px.
    """
    return apply_affine(points_crop_px, invert_affine(affine))


def crop_image(
    image: np.ndarray,
    square: Square,
    out_size: int,
    jitter: CropJitter = NO_JITTER,
    fill: float = 0.0,
) -> np.ndarray:
    """Resample the square (bilinear) into an ``out_size x out_size`` crop; where the square
    leaves the image the crop holds `fill`.

    Shapes: image (H, W) or (H, W, C) -> (out_size, out_size) or (out_size, out_size, C), same dtype.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(
            f"image: expected a non-empty (H, W) or (H, W, C) array, got {image.shape}"
        )
    affine = crop_transform(square, out_size, jitter)
    channels = 1 if image.ndim == 2 else image.shape[2]
    out = cv2.warpAffine(
        image,
        affine,
        (out_size, out_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(fill,) * min(channels, 4),
    )
    if image.ndim == 3 and out.ndim == 2:  # OpenCV drops a trailing axis of length 1
        out = out[:, :, None]
    return out


def sample_jitter(
    rng: np.random.Generator,
    max_rotate_deg: float = 30.0,
    max_log2_scale: float = 0.25,
    max_shift: float = 0.0,
) -> CropJitter:
    """A random training jitter: rotation uniform in ``[-max_rotate_deg, max_rotate_deg]``,
    scale ``2 ** u`` with ``u`` uniform in ``[-max_log2_scale, max_log2_scale]``, and each of
    the shifts uniform in ``[-max_shift, max_shift]`` of the square's side (drawn last, and only
    when ``max_shift > 0``, so that without it the stream is what it was before shifts)."""
    if max_rotate_deg < 0 or max_log2_scale < 0 or max_shift < 0:
        raise ValueError(
            f"max_rotate_deg {max_rotate_deg}, max_log2_scale {max_log2_scale}, max_shift "
            f"{max_shift}: expected >= 0"
        )
    rotate = float(rng.uniform(-max_rotate_deg, max_rotate_deg))
    scale = float(2.0 ** rng.uniform(-max_log2_scale, max_log2_scale))
    dx, dy = rng.uniform(-max_shift, max_shift, size=2) if max_shift > 0 else (0.0, 0.0)
    return CropJitter(rotate_deg=rotate, scale=scale, shift_x=float(dx), shift_y=float(dy))
