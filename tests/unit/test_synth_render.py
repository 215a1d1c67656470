from __future__ import annotations

import numpy as np

from pose3d.camera import Camera
from pose3d.config import CameraSpec
from pose3d.synth.body import subject_body
from pose3d.synth.motion import make_motion, pose_sequence
from pose3d.synth.render import (
    PersonView,
    body_frame,
    draw_capsule,
    draw_person,
    mask_box,
    shade,
    subject_palette,
)
from pose3d.synth.scene import (
    Occluder,
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
    cam = studio_camera(SPEC, 64, 48)
    studio = studio_background(np.random.default_rng(0), cam)
    assert studio.shape == (48, 64, 3) and studio.dtype == np.uint8 and studio.std() > 5
    np.testing.assert_array_equal(studio, studio_background(np.random.default_rng(0), cam))
    other = studio_background(np.random.default_rng(2), cam)
    assert np.abs(studio.astype(int) - other).mean() > 10


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


def _hair_and_face(view: PersonView, img: np.ndarray, palette: dict) -> tuple[float, int]:
    """In the head's square: the share of hair-coloured pixels, and the eye-coloured ones."""
    u, v = np.round((view.kp32_px[14] + view.kp32_px[15]) / 2).astype(int)
    r = int(round(view.focal_px * 90.0 / view.depth_mm[14]))
    patch = img[v - r : v + r, u - r : u + r].reshape(-1, 3).astype(int)
    assert len(patch), "the head is outside the image"

    def near(colours: list) -> np.ndarray:
        return (np.abs(patch[:, None] - np.array(colours)).sum(-1) < 24).any(1)

    hair = near([shade(palette["hair"], f) for f in (0.62, 0.86, 1.1)])
    return float(hair.mean()), int(near([palette["eyes"]]).sum())


def test_a_person_has_a_front_and_a_back_but_no_colour_for_left_or_right() -> None:
    """Seen from behind, the head is hair; from the front it has a face: the same pose from the
    front and from behind no longer give the same picture mirrored (real people differ front
    and back). Nothing is coloured by side: the palette has no left or right entry."""
    actor = make_actor("S5", 0)
    palette = {**actor.palette, "hair": (0, 0, 200), "eyes": (200, 0, 0)}  # told apart here
    pose = pose_sequence(subject_body("S5", 0), make_motion("S5", "Walking", 60, 50.0, 0))[30]
    pose = pose - [pose[0, 0], pose[0, 1], 0.0]  # in the middle of the studio
    seen = {}
    for azimuth in (0.0, 90.0, 180.0, 270.0):
        spec = CameraSpec("c", azimuth, 2500.0, 1500.0, 600.0, (0, 0, 0), (0, 0))
        view = person_views(pose[None], studio_camera(spec, 320, 480))[0]
        img = np.full((480, 320, 3), 128, np.uint8)
        draw_person(img, view, actor.body, palette)
        facing = -float(body_frame(view).forward[2])  # 1: faces this camera, -1: turns away
        seen[facing] = _hair_and_face(view, img, palette)
    (back_hair, back_eyes), (front_hair, front_eyes) = seen[min(seen)], seen[max(seen)]
    assert min(seen) < -0.7 and max(seen) > 0.7
    assert back_hair > front_hair + 0.15, seen  # from behind, the head is hair
    assert front_eyes > 0 and back_eyes == 0, seen
    assert not {key for key in actor.palette if "left" in key or "right" in key}
