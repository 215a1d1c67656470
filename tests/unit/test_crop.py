"""pose3d.crop: CR/ICR round trips, where pixels land in the crop, padding and bad inputs."""

from __future__ import annotations

from dataclasses import astuple

import numpy as np
import pytest

from pose3d.crop import (
    CropJitter,
    KeypointSquare,
    Square,
    apply_affine,
    box_from_keypoints,
    crop_box,
    crop_image,
    crop_transform,
    fit_keypoint_square,
    from_crop,
    full_image_square,
    invert_affine,
    sample_jitter,
    to_crop,
)


def _random_box(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A box anywhere around a width x height image: inside, at a border or partly outside."""
    x0 = rng.uniform(-0.3 * width, 1.1 * width)
    y0 = rng.uniform(-0.3 * height, 1.1 * height)
    return np.array([x0, y0, x0 + rng.uniform(2, width), y0 + rng.uniform(2, height)])


@pytest.mark.parametrize("size", [(1000, 1002), (1920, 1080), (300, 900)])
def test_icr_undoes_cr_for_random_boxes_and_jitter(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(size))
    width, height = size
    for _ in range(50):
        square = crop_box(_random_box(rng, width, height), margin=rng.uniform(0.0, 0.5))
        affine = crop_transform(
            square, int(rng.integers(32, 385)), sample_jitter(rng, 30, 0.25, 0.1)
        )
        kp_px = rng.uniform([-100, -100], [width + 100, height + 100], size=(3, 17, 2))
        np.testing.assert_allclose(from_crop(to_crop(kp_px, affine), affine), kp_px, atol=1e-4)


def test_icr_with_one_affine_per_pose() -> None:
    rng = np.random.default_rng(1)
    affines = np.stack(
        [crop_transform(crop_box(_random_box(rng, 640, 480)), 256) for _ in range(4)]
    )
    kp_px = rng.uniform(0, 640, size=(4, 17, 2))
    kp_crop_px = to_crop(kp_px, affines)
    for n in range(4):
        np.testing.assert_allclose(kp_crop_px[n], to_crop(kp_px[n], affines[n]), atol=1e-12)
    np.testing.assert_allclose(from_crop(kp_crop_px, affines), kp_px, atol=1e-4)


def test_square_corners_map_to_crop_edges_and_centre_to_centre() -> None:
    square = crop_box(np.array([100.0, 50.0, 200.0, 250.0]), margin=0.2)
    assert (square.cx, square.cy, square.side) == pytest.approx((150.0, 150.0, 240.0))
    affine = crop_transform(square, 96)
    corners = np.array([[30.0, 30.0], [270.0, 270.0], [150.0, 150.0]])
    np.testing.assert_allclose(to_crop(corners, affine), [[-0.5, -0.5], [95.5, 95.5], [47.5, 47.5]])


def test_jitter_rotates_counter_clockwise_and_scales_about_the_centre() -> None:
    square = Square(50.0, 40.0, 20.0)
    affine = crop_transform(square, 20, CropJitter(rotate_deg=90.0, scale=2.0))
    # 10 px right of the centre, side doubled: 5 crop px from the crop centre (9.5, 9.5), now above
    np.testing.assert_allclose(to_crop(np.array([[60.0, 40.0]]), affine), [[9.5, 4.5]], atol=1e-9)
    np.testing.assert_allclose(invert_affine(invert_affine(affine)), affine, atol=1e-12)


def test_shift_moves_the_squares_centre_by_a_share_of_its_side() -> None:
    square = Square(50.0, 40.0, 20.0)
    affine = crop_transform(square, 20, CropJitter(rotate_deg=90.0, shift_x=0.25, shift_y=-0.5))
    # the centre moved 5 px right and 10 px up lands on the crop's centre, and the turn is
    # about that point: 10 px right of it lands 10 crop px above the centre
    centre = np.array([[55.0, 30.0], [65.0, 30.0]])
    np.testing.assert_allclose(to_crop(centre, affine), [[9.5, 9.5], [9.5, -0.5]], atol=1e-9)


def test_sample_jitter_draws_shifts_within_range_and_leaves_the_old_stream_without_them() -> None:
    old = [sample_jitter(np.random.default_rng(s), 30.0, 0.25) for s in range(50)]
    assert all(j.shift_x == 0.0 and j.shift_y == 0.0 for j in old)
    shifted = [sample_jitter(np.random.default_rng(s), 30.0, 0.25, 0.1) for s in range(50)]
    # rotation and scale are drawn first, so they are the same with or without shifts
    assert [(j.rotate_deg, j.scale) for j in old] == [(j.rotate_deg, j.scale) for j in shifted]
    shifts = np.array([(j.shift_x, j.shift_y) for j in shifted])
    assert np.abs(shifts).max() <= 0.1 and (shifts > 0.05).any() and (shifts < -0.05).any()
    with pytest.raises(ValueError, match="max_shift"):
        sample_jitter(np.random.default_rng(0), 30.0, 0.25, -0.1)


def test_full_image_square_holds_the_image() -> None:
    square = full_image_square(640, 480)
    affine = crop_transform(square, 256)
    corners = np.array([[-0.5, -0.5], [639.5, 479.5]])
    # the long side fills the crop, the short side is centred (letterbox of 32 px each side)
    np.testing.assert_allclose(to_crop(corners, affine), [[-0.5, 31.5], [255.5, 223.5]])


def test_a_marked_pixel_lands_where_to_crop_says() -> None:
    image = np.zeros((90, 120), dtype=np.uint8)
    image[37, 81] = 255
    # an integer-aligned square with out_size == side is a pure shift: the pixel lands exactly
    square = Square(70.5, 40.5, 32.0)
    affine = crop_transform(square, 32)
    crop = crop_image(image, square, 32)
    u, v = to_crop(np.array([[81.0, 37.0]]), affine)[0]
    assert crop[int(round(v)), int(round(u))] == 255 and crop.sum() == 255
    assert (u, v) == pytest.approx((26.0, 12.0))


@pytest.mark.parametrize(
    "jitter",
    [
        CropJitter(),
        CropJitter(25.0, 1.3),
        CropJitter(-60.0, 0.8),
        CropJitter(15.0, 1.1, 0.1, -0.08),
    ],
)
def test_a_marked_blob_lands_where_to_crop_says_under_zoom_and_rotation(jitter) -> None:
    yy, xx = np.mgrid[0:200, 0:300]
    centre = np.array([171.3, 88.6])
    image = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * 4.0**2))
    square = crop_box(np.array([120.0, 40.0, 220.0, 160.0]), margin=0.1)
    crop = crop_image(image.astype(np.float32), square, 128, jitter)
    vv, uu = np.mgrid[0:128, 0:128]
    found = np.array([(crop * uu).sum(), (crop * vv).sum()]) / crop.sum()
    expected = to_crop(centre[None], crop_transform(square, 128, jitter))[0]
    np.testing.assert_allclose(found, expected, atol=0.05)


def test_padding_is_constant_outside_the_image() -> None:
    image = np.full((60, 80, 3), 200, dtype=np.uint8)
    square = crop_box(np.array([50.0, -30.0, 110.0, 40.0]))  # leaves the image up and right
    crop = crop_image(image, square, 64, CropJitter(20.0, 1.0), fill=7)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
    vv, uu = np.mgrid[0:64, 0:64]
    grid = np.stack([uu, vv], axis=-1).reshape(-1, 2).astype(np.float64)
    img_px = from_crop(grid, crop_transform(square, 64, CropJitter(20.0, 1.0))).reshape(64, 64, 2)
    outside = (img_px[..., 0] < -1) | (img_px[..., 0] > 80) | (img_px[..., 1] < -1)
    inside = (img_px[..., 0] > 0) & (img_px[..., 0] < 79) & (img_px[..., 1] > 0)
    assert outside.sum() > 100 and inside.sum() > 100
    assert np.all(crop[outside] == 7) and np.all(crop[inside] == 200)


def test_single_channel_images_keep_their_axis() -> None:
    crop = crop_image(np.ones((10, 10, 1), dtype=np.float32), Square(4.5, 4.5, 10.0), 5)
    assert crop.shape == (5, 5, 1)


def test_bad_inputs_name_the_argument() -> None:
    with pytest.raises(ValueError, match="box_xyxy_px"):
        crop_box(np.array([10.0, 10.0, 10.0, 50.0]))
    with pytest.raises(ValueError, match="box_xyxy_px"):
        crop_box(np.array([10.0, 10.0, np.nan, 50.0]))
    with pytest.raises(ValueError, match="margin"):
        crop_box(np.array([0.0, 0.0, 1.0, 1.0]), margin=-1.0)
    for size in (0, -5):
        with pytest.raises(ValueError, match="out_size"):
            crop_transform(Square(1.0, 1.0, 2.0), size)
        with pytest.raises(ValueError, match="out_size"):
            crop_image(np.zeros((4, 4)), Square(1.0, 1.0, 2.0), size)
    with pytest.raises(ValueError, match="side"):
        Square(1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="scale"):
        CropJitter(scale=0.0)
    with pytest.raises(ValueError, match="shift"):
        CropJitter(shift_x=float("nan"))
    with pytest.raises(ValueError, match="width"):
        full_image_square(0, 10)
    with pytest.raises(ValueError, match="points"):
        apply_affine(np.zeros((17, 3)), np.zeros((2, 3)))


def test_keypoint_square_fit_recovers_how_boxes_sit_and_draws_them_again() -> None:
    rng = np.random.default_rng(3)
    kp = rng.uniform(0, 1, (40, 17, 2)) * rng.uniform(20, 200, (40, 1, 2)) + rng.uniform(
        0, 500, (40, 1, 2)
    )
    lo, hi = kp.min(axis=1), kp.max(axis=1)
    extent = (hi - lo).max(axis=1)
    centre = (lo + hi) / 2 + np.array([0.03, -0.06]) * extent[:, None]
    long_side = 1.2 * extent  # the box's longest side; its other side is shorter
    boxes = np.concatenate([centre - [0.3, 0.5] * long_side[:, None],
                            centre + [0.3, 0.5] * long_side[:, None]], axis=1)  # fmt: skip
    fit = fit_keypoint_square(kp, boxes)
    assert astuple(fit) == pytest.approx((1.2, 0.03, -0.06))
    drawn = box_from_keypoints(kp, fit)
    for box, again in zip(boxes, drawn, strict=True):
        want, got = crop_box(box, 0.25), crop_box(again, 0.25)
        assert (got.cx, got.cy, got.side) == pytest.approx((want.cx, want.cy, want.side))
    # a row with one finite joint has no extent: no box, and it does not count in a fit
    kp[0, 1:] = np.nan
    assert np.isnan(box_from_keypoints(kp[:2], fit)[0]).all()
    assert np.isfinite(box_from_keypoints(kp[:2], fit)[1]).all()
    boxes[1] = np.nan
    assert astuple(fit_keypoint_square(kp, boxes)) == pytest.approx(astuple(fit))
    with pytest.raises(ValueError, match="no row"):
        fit_keypoint_square(kp[:2], boxes[:2])
    with pytest.raises(ValueError, match="side_ratio"):
        KeypointSquare(0.0, 0.0, 0.0)
