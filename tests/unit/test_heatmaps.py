"""pose3d.heatmaps: targets decode back to their keypoints, the quarter shift, the flip test."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d.heatmaps import (
    decode_heatmaps,
    flip_heatmaps,
    flip_offset_heatmap_px,
    gaussian_heatmaps,
    heatmap_to_input_px,
    input_to_heatmap_px,
)
from pose3d.skeleton import H36M17_LR_PAIRS, flip_lr


def test_gaussian_targets_decode_to_their_subpixel_keypoints() -> None:
    rng = np.random.default_rng(0)
    kp_crop_px = rng.uniform(8.0, 216.0, size=(6, 17, 2))  # away from the borders
    maps = gaussian_heatmaps(kp_crop_px, np.ones((6, 17), bool), 224, stride=4, sigma=2.0)
    assert maps.shape == (6, 17, 56, 56) and maps.dtype == np.float32
    kp_heatmap_px, scores = decode_heatmaps(maps)
    error = np.abs(kp_heatmap_px - input_to_heatmap_px(kp_crop_px, 4))
    assert error.max() < 0.3
    # the quarter shift beats the plain argmax on average (0.125 against 0.25 expected)
    assert error.mean() < 0.17
    assert np.all(scores > 0.88) and np.all(scores <= 1.0)
    np.testing.assert_allclose(
        heatmap_to_input_px(input_to_heatmap_px(kp_crop_px, 4), 4), kp_crop_px
    )


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_dark_decoding_finds_the_gaussians_centre_where_the_quarter_shift_cannot(
    noise: float,
) -> None:
    rng = np.random.default_rng(2)
    kp_crop_px = rng.uniform(8.0, 88.0, size=(40, 17, 2))
    maps = gaussian_heatmaps(kp_crop_px, np.ones((40, 17), bool), 96, stride=4, sigma=1.4)
    maps = maps + rng.normal(0.0, noise, maps.shape)
    truth = input_to_heatmap_px(kp_crop_px, 4)
    quarter, scores_q = decode_heatmaps(maps, "quarter")
    dark, scores_d = decode_heatmaps(maps, "dark", sigma=1.4)
    error_q, error_d = np.abs(quarter - truth), np.abs(dark - truth)
    assert error_q.mean() > 0.1  # the quarter shift's error is a quarter cell's order
    assert error_d.mean() < (0.01 if noise == 0 else 0.05) and error_d.max() < 0.3
    np.testing.assert_array_equal(scores_q, scores_d)  # the peak value either way


def test_dark_decoding_stays_put_on_the_border_and_a_flat_map() -> None:
    maps = np.zeros((1, 2, 8, 8))
    maps[0, 0, 0, 7] = 1.0
    maps[0, 0, 1, 6] = 0.5
    kp, _ = decode_heatmaps(maps, "dark", sigma=1.0)
    np.testing.assert_allclose(kp[0], [[7.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="'mean'"):
        decode_heatmaps(maps, "mean")
    with pytest.raises(ValueError, match="sigma"):
        decode_heatmaps(maps, "dark", sigma=0.0)


def test_a_target_on_a_cell_peaks_there_with_value_one() -> None:
    maps = gaussian_heatmaps(np.array([[40.0, 12.0]]), np.array([True]), (64, 32), 4, 1.5)
    assert maps.shape == (1, 8, 16)
    assert maps[0, 3, 10] == pytest.approx(1.0)
    assert maps[0, 3, 11] == pytest.approx(np.exp(-1 / (2 * 1.5**2)))


def test_quarter_shift_goes_toward_the_higher_neighbour() -> None:
    # peak at (x, y) = (1, 1); right neighbour higher than left, upper higher than lower
    maps = np.array([[0.0, 0.6, 0.0], [0.2, 1.0, 0.5], [0.0, 0.1, 0.0]])[None, None]
    kp, score = decode_heatmaps(maps)
    np.testing.assert_allclose(kp[0, 0], [1.25, 0.75])
    assert score[0, 0] == 1.0
    # equal neighbours: no shift
    kp, _ = decode_heatmaps(
        np.array([[0.0, 0.3, 0.0], [0.4, 1.0, 0.4], [0.0, 0.3, 0.0]])[None, None]
    )
    np.testing.assert_allclose(kp[0, 0], [1.0, 1.0])


def test_peak_on_the_border_is_not_shifted_outward() -> None:
    maps = np.zeros((1, 1, 3, 4))
    maps[0, 0, 0, 3] = 1.0
    maps[0, 0, 1, 3] = 0.5
    kp, _ = decode_heatmaps(maps)
    np.testing.assert_allclose(kp[0, 0], [3.0, 0.0])


def test_invisible_and_nonfinite_joints_get_empty_maps_and_zero_scores() -> None:
    kp = np.array([[20.0, 20.0], [30.0, 30.0], [np.nan, 5.0]])
    maps = gaussian_heatmaps(kp, np.array([True, False, True]), 64)
    assert maps[0].max() == pytest.approx(1.0)
    assert not maps[1].any() and not maps[2].any()
    _, scores = decode_heatmaps(maps[None])
    assert scores[0, 1] == 0.0 and scores[0, 2] == 0.0


def test_all_zero_heatmap_scores_zero() -> None:
    _, scores = decode_heatmaps(np.zeros((2, 17, 8, 8), dtype=np.float32))
    np.testing.assert_array_equal(scores, 0.0)


def test_flip_twice_is_identity_and_swaps_left_right() -> None:
    maps = np.random.default_rng(1).random((2, 17, 6, 5)).astype(np.float32)
    np.testing.assert_array_equal(flip_heatmaps(flip_heatmaps(maps)), maps)
    flipped = flip_heatmaps(maps)
    for left, right in H36M17_LR_PAIRS:
        np.testing.assert_array_equal(flipped[:, left], maps[:, right, :, ::-1])
    np.testing.assert_array_equal(flipped[:, 0], maps[:, 0, :, ::-1])


def test_flip_test_recovers_the_keypoint_with_the_offset() -> None:
    rng = np.random.default_rng(2)
    kp_crop_px = rng.uniform(16.0, 200.0, size=(1, 17, 2))
    mirrored = kp_crop_px.copy()
    mirrored[..., 0] = 224 - 1 - mirrored[..., 0]
    # the mirrored image's joints carry the other side's labels
    mirrored = flip_lr(mirrored)
    visible = np.ones((1, 17), bool)
    back = flip_heatmaps(gaussian_heatmaps(mirrored, visible, 224, 4, 2.0))
    kp_heatmap_px, _ = decode_heatmaps(back)
    kp_heatmap_px[..., 0] += flip_offset_heatmap_px(4)
    assert np.abs(kp_heatmap_px - input_to_heatmap_px(kp_crop_px, 4)).max() < 0.3


def test_bad_inputs_name_the_argument() -> None:
    with pytest.raises(ValueError, match="input_size"):
        gaussian_heatmaps(np.zeros((17, 2)), np.ones(17, bool), 66, stride=4)
    with pytest.raises(ValueError, match="visible"):
        gaussian_heatmaps(np.zeros((17, 2)), np.ones(16, bool), 64)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_heatmaps(np.zeros((17, 2)), np.ones(17, bool), 64, sigma=0.0)
    with pytest.raises(ValueError, match="heatmaps"):
        decode_heatmaps(np.zeros((17, 8, 8)))
    with pytest.raises(ValueError, match="heatmaps"):
        flip_heatmaps(np.zeros((1, 16, 8, 8)))
