"""Everything in an image but the person: backgrounds, occluders and camera degradations.

Colours are BGR; images are (H, W, 3) uint8.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pose3d.camera import Camera, project, world_to_camera
from pose3d.synth.render import Colour, draw_capsule


def random_colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> Colour:
    b, g, r = rng.integers(lo, hi, size=3)
    return (int(b), int(g), int(r))


def gradient(
    rng: np.random.Generator, width: int, height: int, lo: int = 0, hi: int = 256
) -> np.ndarray:
    """A linear blend of two random colours in a random direction. Shapes: -> (H, W, 3) uint8."""
    c0, c1 = rng.integers(lo, hi, size=(2, 3)).astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    # computed on a coarse grid and resized: bilinear interpolation keeps a linear ramp linear
    small_w, small_h = max(2, width // 8), max(2, height // 8)
    xs = np.linspace(0.0, 1.0, small_w, dtype=np.float32)[None, :]
    ys = np.linspace(0.0, 1.0, small_h, dtype=np.float32)[:, None]
    t = xs * np.cos(ang) + ys * np.sin(ang)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    small = (c0 + (c1 - c0) * t[..., None]).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def texture(rng: np.random.Generator, img: np.ndarray, strength: float) -> None:
    """Blend smooth random blobs into `img` in place (a cheap texture)."""
    h, w = img.shape[:2]
    cells = int(rng.integers(3, 12))
    low = rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
    blobs = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    cv2.addWeighted(img, 1.0 - strength, blobs, strength, 0.0, dst=img)


def random_shapes(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Draw `count` random rectangles, ellipses, polygons, lines and capsules in place."""
    h, w = img.shape[:2]
    s = max(h, w)
    for _ in range(count):
        col, kind = random_colour(rng), int(rng.integers(0, 5))
        x, y = int(rng.integers(-s // 8, w)), int(rng.integers(-s // 8, h))
        size = rng.uniform(0.04, 0.4, size=2) * s
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + int(size[0]), y + int(size[1])), col, -1)
        elif kind == 1:
            axes = (int(size[0] / 2), int(size[1] / 2))
            cv2.ellipse(img, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, col, -1, cv2.LINE_AA)
        elif kind == 2:
            pts = rng.uniform(-1, 1, size=(int(rng.integers(3, 7)), 2)) * size + [x, y]
            cv2.fillPoly(img, [pts.astype(np.int32)], col, cv2.LINE_AA)
        elif kind == 3:
            end = (x + int(rng.uniform(-1, 1) * size[0]), y + int(rng.uniform(-1, 1) * size[1]))
            cv2.line(img, (x, y), end, col, int(rng.integers(1, 6)), cv2.LINE_AA)
        else:  # limb-like distractors
            a = np.array([x, y], dtype=np.float64)
            b = a + rng.uniform(-1, 1, size=2) * size
            draw_capsule(img, a, b, size[0] / 8, size[1] / 10, col)


def _floor_tiles(img: np.ndarray, cam: Camera, colours: tuple[Colour, Colour]) -> None:
    """Draw a chequered floor (z = 0, 500 mm tiles, 12 m square) seen by `cam`, in place."""
    step, half = 500.0, 6000.0
    grid = np.arange(-half, half + step, step)
    xx, yy = np.meshgrid(grid, grid, indexing="ij")
    corners_cam = world_to_camera(np.stack([xx, yy, np.zeros_like(xx)], axis=-1), cam)
    z = corners_cam[..., 2]
    ok = (z > 200.0) & (np.abs(corners_cam[..., 0]) < z) & (np.abs(corners_cam[..., 1]) < z)
    px = project(corners_cam, cam)
    n = len(grid) - 1
    for i in range(n):
        for j in range(n):
            if not ok[i : i + 2, j : j + 2].all():
                continue
            quad = px[[i, i + 1, i + 1, i], [j, j, j + 1, j + 1]]
            pts = np.round(quad * 16).astype(np.int32)
            cv2.fillConvexPoly(img, pts, colours[(i + j) % 2], cv2.LINE_AA, 4)


def studio_background(rng: np.random.Generator, cam: Camera) -> np.ndarray:
    """The empty studio seen by `cam`: walls with a few fixtures and a tiled floor.

    Shapes: -> (cam.height, cam.width, 3) uint8.
    """
    img = gradient(rng, cam.width, cam.height, 40, 200)
    random_shapes(rng, img, int(rng.integers(2, 8)))
    base = np.array(random_colour(rng, 60, 180))
    tiles = (tuple(int(v) for v in base), tuple(int(v) for v in np.clip(base + 25, 0, 255)))
    _floor_tiles(img, cam, tiles)  # type: ignore[arg-type]
    texture(rng, img, float(rng.uniform(0.05, 0.2)))
    return img


@dataclass(frozen=True)
class Occluder:
    """An opaque object in front of the person: a rectangle or an ellipse (pixels)."""

    kind: str  # "rect" | "ellipse"
    centre_px: tuple[float, float]
    half_size_px: tuple[float, float]
    colour: Colour


def random_occluder(rng: np.random.Generator, box_xyxy_px: np.ndarray) -> Occluder:
    """An occluder covering part of a box. Shapes: box_xyxy_px (4,)."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy_px)
    bw, bh = max(x2 - x1, 4.0), max(y2 - y1, 4.0)
    half = rng.uniform(0.15, 0.4, size=2) * np.array([bw, bh])
    return Occluder(
        kind="rect" if rng.uniform() < 0.5 else "ellipse",
        centre_px=(float(rng.uniform(x1, x2)), float(rng.uniform(y1, y2))),
        half_size_px=(float(half[0]), float(half[1])),
        colour=random_colour(rng),
    )


def draw_occluder(img: np.ndarray, occ: Occluder) -> None:
    """Draw `occ` into `img` in place."""
    (cx, cy), (hx, hy) = occ.centre_px, occ.half_size_px
    if occ.kind == "rect":
        p1, p2 = (int(cx - hx), int(cy - hy)), (int(cx + hx), int(cy + hy))
        cv2.rectangle(img, p1, p2, occ.colour, -1)
        cv2.rectangle(img, p1, p2, tuple(int(v * 0.6) for v in occ.colour), 1)
    else:
        axes = (max(1, int(hx)), max(1, int(hy)))
        cv2.ellipse(img, (int(cx), int(cy)), axes, 0.0, 0, 360, occ.colour, -1, cv2.LINE_AA)


def noise_bank(
    rng: np.random.Generator, shape: tuple[int, ...], std: float, count: int
) -> np.ndarray:
    """`count` Gaussian noise images split into (positive, negative) uint8 parts.

    Shapes: -> (count, 2, *shape) uint8.
    """
    noise = rng.standard_normal(size=(count, *shape), dtype=np.float32)
    noise *= np.float32(std)
    np.rint(noise, out=noise)
    pos = np.clip(noise, 0, 255).astype(np.uint8)
    neg = np.clip(-noise, 0, 255).astype(np.uint8)
    return np.stack([pos, neg], axis=1)


def degrade(img: np.ndarray, noise: np.ndarray | None, blur: bool) -> np.ndarray:
    """Optional 3x3 Gaussian blur, then additive noise from `noise_bank` (saturating).

    Shapes: img (H, W, 3) uint8, noise (2, H, W, 3) uint8 -> (H, W, 3) uint8.
    """
    if blur:
        img = cv2.GaussianBlur(img, (3, 3), 0)
    if noise is not None:
        img = cv2.subtract(cv2.add(img, noise[0]), noise[1])
    return img


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Compress and decompress (JPEG artefacts). Shapes: (H, W, 3) uint8 -> same."""
    decoded = cv2.imdecode(encode_jpeg(img, quality), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError(f"JPEG decoding failed for an image of shape {img.shape}")
    return np.asarray(decoded)


def encode_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG bytes of `img`. Shapes: (H, W, 3) uint8 -> (n_bytes,) uint8."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {img.shape}")
    return np.asarray(buf)
