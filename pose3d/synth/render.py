"""Drawing people with OpenCV (the rest of the scene is in `pose3d.synth.scene`).

A person is a set of shaded, tapered capsules between projected mocap joints (limbs, torso,
head), drawn far to near. Every capsule ends in a disc centred on a joint, so each of the 32
projected joints lies on the drawn person unless something nearer covers it. Colours are BGR.

Where the view has the joints in the camera frame, a person has a front and a back, as real
people do: a face (eyes, mouth) on the front of the head and hair covering its back and top, and
a shirt with a collar opening and a button strip down its front and a plain back. All of it is
left-right symmetric: it tells front from back, never left from right by colour.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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
        "eyes": _hsv_colour(rng.uniform(0, 30), rng.uniform(20, 120), rng.uniform(10, 45)),
    }


def shade(colour: Colour, factor: float) -> Colour:
    b, g, r = (min(255, int(round(v * factor))) for v in colour)
    return (b, g, r)


@dataclass(frozen=True)
class PersonView:
    """One person as seen by one camera; with `cam_mm`, the front and back features too.

    Shapes: kp32_px (32, 2) distorted pixels, depth_mm (32,) camera-frame z, cam_mm (32, 3)
    camera-frame joints (or None).
    """

    kp32_px: np.ndarray
    depth_mm: np.ndarray
    focal_px: float
    cam_mm: np.ndarray | None = None


# mocap joints that orient the body: pelvis, thorax, head (neck, top), shoulders (left, right)
_PELVIS, _THORAX, _NECK, _HEAD_TOP, _L_SHOULDER, _R_SHOULDER = 0, 13, 14, 15, 17, 25
HAIR_PART = 5  # PARTS' index of the hair disc, replaced by the hair cap where cam_mm is known
FACING = 0.1  # the front is drawn where the body faces the camera at least this much (cosine)


@dataclass(frozen=True)
class _Frame:
    """A body's axes in the camera frame (unit vectors) and how to project a point near it."""

    forward: np.ndarray  # where the chest faces
    up: np.ndarray  # pelvis to thorax
    side: np.ndarray  # right shoulder to left shoulder, made orthogonal to `up`
    centre_px: np.ndarray  # the principal point that maps the pelvis onto its drawn pixel
    focal_px: float

    def project(self, point_mm: np.ndarray) -> np.ndarray:
        return self.centre_px + self.focal_px * point_mm[:2] / max(point_mm[2], 1.0)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def body_frame(view: PersonView) -> _Frame:
    """The body's axes in the camera frame (x right, y down, z away from the camera): `forward`
    has a negative z where the person faces the camera. Needs ``view.cam_mm``."""
    cam = np.asarray(view.cam_mm, np.float64)
    up = _unit(cam[_THORAX] - cam[_PELVIS])
    side = cam[_L_SHOULDER] - cam[_R_SHOULDER]
    side = _unit(side - up * float(side @ up))
    forward = np.cross(side, up)  # facing the camera: left shoulder on the image's right
    pelvis = cam[_PELVIS]
    centre = view.kp32_px[_PELVIS] - view.focal_px * pelvis[:2] / max(pelvis[2], 1.0)
    return _Frame(forward, up, side, centre, view.focal_px)


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


# (shade factor, radius scale, offset toward the light): rim, body and highlight; or one flat
LEVELS: tuple[tuple[float, float, float], ...] = tuple(
    zip(SHADES, (1.0, 0.72, 0.32), (0.0, 0.12, 0.3), strict=True)
)
FLAT = ((1.0, 1.0, 0.0),)


def _shaded_capsule(
    img: np.ndarray, mask: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float,
    colour: Colour, levels: tuple[tuple[float, float, float], ...],
    light: np.ndarray | None = None, min_px: float = 0.0,
) -> None:  # fmt: skip
    """One part of a person: its silhouette into `mask`, and into `img` a capsule per level
    (shade, scale, offset toward `light`), levels thinner than `min_px` left out."""
    draw_capsule(mask, a, b, ra, rb, (255, 255, 255))
    for factor, scale, offset in levels:
        if min(ra, rb) * scale < min_px:
            continue
        off = 0.0 if light is None else light * offset * (ra + rb)
        draw_capsule(img, a + off, b + off, ra * scale, rb * scale, shade(colour, factor))


def _front_and_back(
    view: PersonView, body: Body, palette: dict[str, Colour]
) -> list[tuple[float, Callable[[np.ndarray, np.ndarray], None]]]:
    """The hair cap (always) and, where the body faces the camera, the face and the shirt's
    front, as (depth mm, draw into (image, mask)) in the order of `draw_person`."""
    cam = np.asarray(view.cam_mm, np.float64)
    frame = body_frame(view)
    fwd, up, side = frame.forward, frame.up, frame.side
    r_head = 66.0 * body.girth
    head = (cam[_NECK] + cam[_HEAD_TOP]) / 2
    items: list[tuple[float, Callable[[np.ndarray, np.ndarray], None]]] = []

    def disc(centre_mm: np.ndarray, radius_mm: float, colour: Colour, shaded: bool) -> None:
        at = frame.project(centre_mm)
        r = max(0.6, view.focal_px * radius_mm / max(centre_mm[2], 1.0))
        levels = LEVELS if shaded else FLAT
        items.append((float(centre_mm[2]), functools.partial(
            _shaded_capsule, a=at, b=at, ra=r, rb=r, colour=colour, levels=levels)))  # fmt: skip

    # the hair: over the top and the back of the head, down to the nape, so from behind a head
    # is all hair and from the front it shows around the face
    back = -fwd * 0.35 * r_head
    nape, crown = cam[_NECK] + back + up * 0.35 * r_head, cam[_HEAD_TOP] + back + up * 0.25 * r_head
    at_nape, at_crown = frame.project(nape), frame.project(crown)
    r_nape = max(0.6, view.focal_px * 0.95 * r_head / max(nape[2], 1.0))
    r_crown = max(0.6, view.focal_px * 1.08 * r_head / max(crown[2], 1.0))

    hair = functools.partial(_shaded_capsule, a=at_nape, b=at_crown, ra=r_nape, rb=r_crown,
                             colour=palette["hair"], levels=LEVELS)  # fmt: skip
    items.append((float((nape[2] + crown[2]) / 2), hair))
    if -float(fwd[2]) < FACING:
        return items
    for sign in (1.0, -1.0):  # eyes
        disc(head + fwd * 0.85 * r_head + up * 0.2 * r_head + sign * side * 0.38 * r_head,
             0.16 * r_head, palette["eyes"], False)  # fmt: skip
    disc(head + fwd * 0.9 * r_head - up * 0.35 * r_head, 0.12 * r_head, palette["eyes"], False)
    r_torso = 120.0 * body.girth
    torso = cam[_THORAX] - cam[_PELVIS]
    neck_v = [cam[_THORAX] + sign * side * 0.42 * r_torso + fwd * 0.9 * r_torso
              for sign in (1.0, -1.0)]  # fmt: skip
    v_tip = cam[_THORAX] - up * 0.85 * r_torso + fwd * 0.97 * r_torso
    strip_end = cam[_PELVIS] + torso * 0.15 + fwd * 0.97 * r_torso

    def shirt_front(img: np.ndarray, _mask: np.ndarray) -> None:
        corners = np.array([frame.project(p) for p in (*neck_v, v_tip)])
        cv2.fillConvexPoly(img, np.round(corners * _SCALE).astype(np.int32),
                           shade(palette["skin"], SHADES[1]), cv2.LINE_AA, _SHIFT)  # fmt: skip
        a, b = frame.project(v_tip), frame.project(strip_end)
        width = max(0.5, view.focal_px * 0.07 * r_torso / max(v_tip[2], 1.0))
        draw_capsule(img, a, b, width, width, shade(palette["shirt"], SHADES[0]))

    items.append((float(v_tip[2]), shirt_front))
    return items


def draw_person(
    img: np.ndarray, view: PersonView, body: Body, palette: dict[str, Colour]
) -> np.ndarray:
    """Draw the person into `img` in place, far parts first; return its mask (uint8, 0/255).
    With ``view.cam_mm``, the hair covers the head's back and the front has a face and a shirt
    front (`_front_and_back`).

    Shapes: img (H, W, 3) uint8 -> mask (H, W).
    """
    mask = np.zeros(img.shape[:2], dtype=np.uint8)
    depth = np.maximum(view.depth_mm, 1.0)
    light = np.array([-0.25, -0.3])  # highlights up and to the left
    items: list[tuple[float, Callable[[np.ndarray, np.ndarray], None]]] = []
    features = view.cam_mm is not None
    for i, (ja, jb, ra_mm, rb_mm, key) in enumerate(PARTS):
        if features and i == HAIR_PART:
            continue
        a, b = view.kp32_px[ja], view.kp32_px[jb]
        ra = max(1.5, view.focal_px * ra_mm * body.girth / depth[ja])
        rb = max(1.5, view.focal_px * rb_mm * body.girth / depth[jb])

        part = functools.partial(_shaded_capsule, a=a, b=b, ra=ra, rb=rb, colour=palette[key],
                                 levels=LEVELS, light=light, min_px=0.7)  # fmt: skip
        items.append((float(depth[[ja, jb]].mean()), part))
    if features:
        items += _front_and_back(view, body, palette)
    for _, draw in sorted(items, key=lambda item: -item[0]):  # far to near (a stable sort)
        draw(img, mask)
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
