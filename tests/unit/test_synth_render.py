from __future__ import annotations

import numpy as np

from pose3d.camera import Camera
from pose3d.config import CameraSpec
from pose3d.synth.body import subject_body
from pose3d.synth.motion import make_motion, pose_sequence
from pose3d.synth.render import (
    PersonView,
    draw_capsule,
    draw_person,
    mask_box,
    shade,
    subject_palette,
)
from pose3d.synth.scene import (
    Occluder,
    clutter_background,
    degrade,
    draw_occluder,
    jpeg_roundtrip,
    noise_bank,
    studio_background,
)
from pose3d.synth.studio import studio_camera
from pose3d.synth.world import make_actor, person_views

SPEC = CameraSpec("10000001", 30.0, 5000.0, 1400.0, 200.0, (-0.2, 0.24, -0.003), (-0.001, 0.001))


def _views(action: str = "Gestures") -> tuple[list[PersonView], Camera]:
    cam = studio_camera(SPEC, 160, 160)
    poses = pose_sequence(subject_body("S1", 0), make_motion("S1", action, 100, 50.0, 0))
    return person_views(poses[::20], cam), cam


def test_projected_joints_are_painted_by_the_person() -> None:
    # Drawn on black and on white, every pixel at a projected joint (unoccluded frames) is the
    # same opaque colour, and that colour is made of the subject's palette shades.
    views, _ = _views()
    actor = make_actor("S1", 0)
    shades = np.array([shade(c, f) for c in actor.palette.values() for f in (0.62, 1.1)])
    for view in views:
        black = np.zeros((160, 160, 3), np.uint8)
        white = np.full((160, 160, 3), 255, np.uint8)
        mask = draw_person(black, view, actor.body, actor.palette)
        draw_person(white, view, actor.body, actor.palette)
        for u, v in np.round(view.kp32_px).astype(int):
            assert 0 <= u < 160 and 0 <= v < 160
            assert mask[v, u] == 255
            np.testing.assert_array_equal(black[v, u], white[v, u])
            assert (black[v, u] >= shades.min(axis=0) - 1).all()
            assert (black[v, u] <= shades.max(axis=0) + 1).all()


def test_nearer_parts_are_drawn_over_farther_ones() -> None:
    # a frontal rest-like pose: put the right wrist right in front of the pelvis, nearer
    views, _ = _views()
    view = views[0]
    kp, depth = view.kp32_px.copy(), view.depth_mm.copy()
    for j in (19, 20, 21, 22, 27, 28, 29, 30, 31):  # move both hands out of the way
        kp[j] = [5.0, 5.0]
    kp[[26, 27, 28, 30, 31]] = kp[0] + [0.5, 0.5]  # right forearm ends at the pelvis ...
    depth[[26, 27, 28, 29, 30, 31]] = depth[0] - 400.0  # ... 40 cm nearer
    actor = make_actor("S1", 0)
    palette = {**actor.palette, "skin": (0, 0, 255), "sleeves": (0, 0, 255)}
    img = np.zeros((160, 160, 3), np.uint8)
    draw_person(img, PersonView(kp, depth, view.focal_px), actor.body, palette)
    u, v = np.round(kp[0]).astype(int)
    b, g, r = img[v, u].tolist()
    assert r > 100 and b < 30 and g < 30  # the red hand, not the torso


def test_mask_box_and_capsule() -> None:
    img = np.zeros((50, 60), np.uint8)
    assert np.isnan(mask_box(img)).all()
    draw_capsule(img, np.array([10.0, 20.0]), np.array([40.0, 20.0]), 5.0, 5.0, (255, 255, 255))
    x1, y1, x2, y2 = mask_box(img)
    assert 4 <= x1 <= 5 and 45 <= x2 <= 47 and 14 <= y1 <= 15 and 25 <= y2 <= 27


def test_backgrounds_are_deterministic_and_varied() -> None:
    a = clutter_background(np.random.default_rng(1), 64, 48)
    assert a.shape == (48, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, clutter_background(np.random.default_rng(1), 64, 48))
    assert np.abs(a.astype(int) - clutter_background(np.random.default_rng(2), 64, 48)).mean() > 10
    assert a.std() > 5
    cam = studio_camera(SPEC, 64, 48)
    studio = studio_background(np.random.default_rng(0), cam)
    assert studio.shape == (48, 64, 3)
    np.testing.assert_array_equal(studio, studio_background(np.random.default_rng(0), cam))


def test_occluder_noise_blur_and_jpeg() -> None:
    img = np.full((40, 40, 3), 100, np.uint8)
    draw_occluder(img, Occluder("rect", (20.0, 20.0), (5.0, 5.0), (0, 200, 0)))
    assert img[20, 20].tolist() == [0, 200, 0] and img[2, 2].tolist() == [100, 100, 100]
    np.testing.assert_array_equal(degrade(img, None, blur=False), img)
    noise = noise_bank(np.random.default_rng(0), img.shape, 5.0, 2)
    assert noise.shape == (2, 2, 40, 40, 3)
    noisy = degrade(img, noise[0], blur=False).astype(int)
    diff = noisy - img
    assert 3.0 < diff.std() < 7.0 and abs(diff.mean()) < 1.0
    smooth = degrade(img, None, blur=True)
    assert smooth[20, 15].tolist() != img[20, 15].tolist()  # the occluder's edge is blurred
    assert np.abs(jpeg_roundtrip(img, 50).astype(int) - img).mean() < 10


def test_palettes_are_per_subject() -> None:
    assert subject_palette("S1", 0) == subject_palette("S1", 0)
    assert subject_palette("S1", 0) != subject_palette("S5", 0)
