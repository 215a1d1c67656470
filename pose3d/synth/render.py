"""Drawing people with OpenCV (the rest of the scene is in `pose3d.synth.scene`).

A person is a set of shaded, tapered capsules between projected mocap joints (limbs, torso,
head), drawn far to near. Every capsule ends in a disc centred on a joint, so each of the 32
projected joints lies on the drawn person unless something nearer covers it. Colours are BGR.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pose3d.formats.h36m import subject_number
from pose3d.synth.body import Body
from pose3d.synth.rng import rng_for

Colour = tuple[int, int, int]
SHADES: tuple[float, ...] = (0.62, 0.86, 1.1)  # rim, body and highlight of every part
_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_SCALE = 1 << _SHIFT

# (joint a, joint b, radius at a mm, radius at b mm, palette key), before the subject's girth.
PARTS: tuple[tuple[int, int, float, float, str], ...] = (
    (0, 13, 125.0, 140.0, "shirt"),  # torso
    (1, 6, 95.0, 95.0, "trousers"),  # hips
    (17, 25, 65.0, 65.0, "shirt"),  # shoulders
    (13, 14, 42.0, 40.0, "skin"),  # neck
    (14, 15, 72.0, 70.0, "skin"),  # head
    (15, 15, 62.0, 62.0, "hair"),
    (1, 2, 78.0, 58.0, "trousers"), (2, 3, 56.0, 42.0, "trousers"),
    (6, 7, 78.0, 58.0, "trousers"), (7, 8, 56.0, 42.0, "trousers"),
    (3, 4, 42.0, 36.0, "shoes"), (4, 5, 36.0, 30.0, "shoes"),
    (8, 9, 42.0, 36.0, "shoes"), (9, 10, 36.0, 30.0, "shoes"),
    (17, 18, 50.0, 42.0, "shirt"), (18, 19, 40.0, 30.0, "sleeves"), (19, 22, 32.0, 26.0, "skin"),
    (20, 21, 18.0, 14.0, "skin"),
    (25, 26, 50.0, 42.0, "shirt"), (26, 27, 40.0, 30.0, "sleeves"), (27, 30, 32.0, 26.0, "skin"),
    (28, 29, 18.0, 14.0, "skin"),
)  # fmt: skip


def _hsv_colour(h: float, s: float, v: float) -> Colour:
    px = np.array([[[h % 180, s, v]]], dtype=np.uint8)
    b, g, r = cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0]
    return (int(b), int(g), int(r))


def subject_palette(subject: str, seed: int) -> dict[str, Colour]:
    """Clothing, skin and hair colours of a subject, deterministic in (seed, subject)."""
    rng = rng_for(seed, "palette", subject_number(subject))
    shirt_h = rng.uniform(0, 180)
    shirt = _hsv_colour(shirt_h, rng.uniform(90, 230), rng.uniform(110, 230))
    trousers = _hsv_colour(
        shirt_h + rng.uniform(40, 140), rng.uniform(40, 200), rng.uniform(50, 170)
    )
    skin = _hsv_colour(rng.uniform(5, 20), rng.uniform(60, 150), rng.uniform(90, 230))
    return {
        "shirt": shirt,
        "sleeves": shirt if rng.uniform() < 0.5 else skin,
        "trousers": trousers,
        "skin": skin,
        "shoes": _hsv_colour(rng.uniform(0, 180), rng.uniform(0, 120), rng.uniform(20, 90)),
        "hair": _hsv_colour(rng.uniform(5, 25), rng.uniform(50, 200), rng.uniform(15, 110)),
    }


def shade(colour: Colour, factor: float) -> Colour:
    b, g, r = (min(255, int(round(v * factor))) for v in colour)
    return (b, g, r)


@dataclass(frozen=True)
class PersonView:
    """One person as seen by one camera.

    Shapes: kp32_px (32, 2) distorted pixels, depth_mm (32,) camera-frame z.
    """

    kp32_px: np.ndarray
    depth_mm: np.ndarray
    focal_px: float


def draw_capsule(
    img: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float, col: Colour
) -> None:
    """Filled tapered capsule from `a` (radius ra) to `b` (radius rb), pixel units."""
    d = b - a
    length = float(np.hypot(*d))
    pa, pb = np.round(a * _SCALE).astype(np.int32), np.round(b * _SCALE).astype(np.int32)
    if length > 1e-3:
        n = np.array([-d[1], d[0]]) / length
        quad = np.stack([a + n * ra, b + n * rb, b - n * rb, a - n * ra])
        cv2.fillConvexPoly(img, np.round(quad * _SCALE).astype(np.int32), col, cv2.LINE_AA, _SHIFT)
    cv2.circle(img, (int(pa[0]), int(pa[1])), int(round(ra * _SCALE)), col, -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(img, (int(pb[0]), int(pb[1])), int(round(rb * _SCALE)), col, -1, cv2.LINE_AA, _SHIFT)


def draw_person(
    img: np.ndarray, view: PersonView, body: Body, palette: dict[str, Colour]
) -> np.ndarray:
    """Draw the person into `img` in place, far parts first; return its mask (uint8, 0/255).

    Shapes: img (H, W, 3) uint8 -> mask (H, W).
    """
    mask = np.zeros(img.shape[:2], dtype=np.uint8)
    depth = np.maximum(view.depth_mm, 1.0)
    order = sorted(range(len(PARTS)), key=lambda i: -depth[[PARTS[i][0], PARTS[i][1]]].mean())
    light = np.array([-0.25, -0.3])  # highlights up and to the left
    for i in order:
        ja, jb, ra_mm, rb_mm, key = PARTS[i]
        a, b = view.kp32_px[ja], view.kp32_px[jb]
        ra = max(1.5, view.focal_px * ra_mm * body.girth / depth[ja])
        rb = max(1.5, view.focal_px * rb_mm * body.girth / depth[jb])
        draw_capsule(mask, a, b, ra, rb, (255, 255, 255))
        for factor, scale, offset in zip(SHADES, (1.0, 0.72, 0.32), (0.0, 0.12, 0.3), strict=True):
            if min(ra, rb) * scale < 0.7:
                continue
            off = light * offset * (ra + rb)
            draw_capsule(img, a + off, b + off, ra * scale, rb * scale, shade(palette[key], factor))
    return mask


def mask_box(mask: np.ndarray) -> np.ndarray:
    """Tight (x1, y1, x2, y2) box of a mask's non-zero pixels (pixel edges); NaN if empty.

    Shapes: (H, W) -> (4,).
    """
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(xs) == 0:
        return np.full(4, np.nan)
    return np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], dtype=np.float64)
