"""pose3d.images: every kind of user image decodes to 8-bit BGR or raises BadImage naming it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pose3d.images import BadImage, read_image, verify_image


def _photo(height: int = 300, width: int = 400) -> np.ndarray:
    """A smooth colour image (compresses like a photo, so 3,000 bytes is a small part of it)."""
    rng = np.random.default_rng(0)
    noise = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 3)


def _write(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), image)
    return path


def test_colour_jpeg_and_png_decode_to_bgr(tmp_path) -> None:
    image = _photo()
    png = read_image(_write(tmp_path / "a.png", image))
    assert png.dtype == np.uint8 and png.shape == (300, 400, 3)
    np.testing.assert_array_equal(png, image)  # lossless: the channel order is kept (BGR)
    jpeg = read_image(_write(tmp_path / "a.jpg", image))
    assert np.abs(jpeg.astype(int) - image).mean() < 3
    assert verify_image(tmp_path / "a.jpg") == (400, 300)


def test_missing_and_empty_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="absent.jpg: image not found"):
        read_image(tmp_path / "absent.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(BadImage, match=r"empty.jpg: empty file \(0 bytes\)"):
        verify_image(tmp_path / "empty.jpg")


def test_garbage_is_not_an_image(tmp_path) -> None:
    (tmp_path / "garbage.jpg").write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(BadImage, match="garbage.jpg: not an image"):
        verify_image(tmp_path / "garbage.jpg")


@pytest.mark.parametrize("keep", [3000, -2])  # cut to 3,000 bytes; only the EOI marker lost
def test_truncated_jpeg(tmp_path, keep) -> None:
    data = _write(tmp_path / "full.jpg", _photo()).read_bytes()
    assert len(data) > 3 * 3000
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[:keep])
    with pytest.raises(BadImage, match=r"cut.jpg: truncated JPEG") as err:
        verify_image(cut)
    assert isinstance(err.value, ValueError)


def test_jpeg_with_a_trailer_after_eoi_is_fine(tmp_path) -> None:
    path = _write(tmp_path / "trailer.jpg", _photo())
    path.write_bytes(path.read_bytes() + b"\x00\x00SEFT camera trailer")
    assert verify_image(path) == (400, 300)


def test_truncated_png(tmp_path) -> None:
    data = _write(tmp_path / "full.png", _photo()).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[:3000])
    with pytest.raises(BadImage, match="cut.png: truncated or corrupt image"):
        verify_image(cut)


def test_16_bit_png_is_scaled_to_8_bits(tmp_path) -> None:
    values = np.array([0, 257, 32896, 65535], np.uint16)  # 0, 1, 128, 255 in 8 bits
    image16 = np.tile(values, (2, 1))[:, :, None].repeat(3, axis=2)
    image16[..., 0] = 0  # blue off: the channel order survives the scaling
    out = read_image(_write(tmp_path / "deep.png", image16))
    assert out.dtype == np.uint8 and out.shape == (2, 4, 3)
    assert out[0, :, 1].tolist() == [0, 1, 128, 255] and not out[..., 0].any()


def test_grey_scale_is_repeated_over_three_channels(tmp_path) -> None:
    grey = _photo()[:, :, 1]
    for name in ("grey.png", "grey.jpg"):
        out = read_image(_write(tmp_path / name, grey))
        assert out.shape == (300, 400, 3) and out.dtype == np.uint8
        np.testing.assert_array_equal(out[..., 0], out[..., 2])
    np.testing.assert_array_equal(read_image(tmp_path / "grey.png")[..., 1], grey)


def test_alpha_is_dropped(tmp_path) -> None:
    bgra = np.zeros((5, 6, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 10, 20, 30, 0  # fully transparent
    out = read_image(_write(tmp_path / "rgba.png", bgra))
    assert out.shape == (5, 6, 3) and out[0, 0].tolist() == [10, 20, 30]


def test_too_many_pixels(tmp_path) -> None:
    path = _write(tmp_path / "huge.png", np.zeros((100, 200), np.uint8))
    assert verify_image(path, max_pixels=20_000) == (200, 100)
    with pytest.raises(BadImage, match=r"huge.png: image too large \(200 x 100 = 20000 pixels"):
        read_image(path, max_pixels=19_999)
