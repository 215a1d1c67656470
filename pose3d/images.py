"""Images read from users' folders, decoded and fully checked: one path for every stage.

`read_image` decodes a file into an 8-bit, 3-channel **BGR** array (OpenCV's order, as
everywhere else in this project; a consumer that wants RGB flips the last axis). Grey-scale
images are repeated over the three channels, 16-bit images are scaled to 8 bits (v / 257,
rounded), an alpha channel is dropped (not composited) and the EXIF orientation is ignored, so
pixel coordinates are those of the stored array, as the labels' are. `verify_image` runs the
same checks and returns the size.

Anything wrong raises `BadImage` (a ValueError) naming the file and the problem: an empty file,
not an image, a truncated or corrupt one, or more than `max_pixels` pixels. A JPEG counts as
truncated unless an end-of-image marker (FFD9) follows its last start-of-scan marker (FFDA):
some libjpeg builds decode a cut file with a grey bottom and only warn "Premature end of JPEG
file", so the marker, not the decoder, decides. Data after the end-of-image marker (camera
trailers) is allowed. A missing file raises FileNotFoundError.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

# 100 megapixels: 300 MB as 8-bit BGR. OpenCV itself refuses more than 2**30 pixels.
DEFAULT_MAX_PIXELS = 100_000_000

_JPEG_SOI = b"\xff\xd8"
_JPEG_SOS = b"\xff\xda"
_JPEG_EOI = b"\xff\xd9"


class BadImage(ValueError):
    """An image file that cannot be used; the message names the file and what is wrong."""


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image not found")
    data = path.read_bytes()
    if not data:
        raise BadImage(f"{path}: empty file (0 bytes), expected an image")
    if data.startswith(_JPEG_SOI) and data.rfind(_JPEG_EOI) < data.rfind(_JPEG_SOS):
        raise BadImage(
            f"{path}: truncated JPEG (no end-of-image marker FFD9 after the image data; "
            f"the file ends after {len(data)} bytes)"
        )
    return data


def _to_bgr8(image: np.ndarray, path: Path) -> np.ndarray:
    """Decoded image (any depth OpenCV gives, 1-4 channels) -> (H, W, 3) uint8 BGR."""
    if image.dtype == np.uint16:
        image = np.round(image / 257.0).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise BadImage(f"{path}: unsupported pixel type {image.dtype} (expected 8 or 16 bits)")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels in (1, 2):  # grey, or grey + alpha
        grey = image if image.ndim == 2 else image[:, :, 0]
        return cv2.cvtColor(np.ascontiguousarray(grey), cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if channels == 3:
        return image
    raise BadImage(f"{path}: unsupported image with {channels} channels (expected 1, 3 or 4)")


def read_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode the image at `path`. Shapes: -> (H, W, 3) uint8 BGR.

    Raises FileNotFoundError, or `BadImage` naming the file: empty, not an image, truncated or
    corrupt, of an unsupported pixel type, or over `max_pixels` pixels.
    """
    path = Path(path)
    data = _read_bytes(path)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as err:  # e.g. over OpenCV's own pixel limit
        raise BadImage(
            f"{path}: OpenCV could not decode it ({str(err).strip().splitlines()[-1]})"
        ) from err
    if image is None:
        if not cv2.haveImageReader(str(path)):
            raise BadImage(f"{path}: not an image (no image format OpenCV can read)")
        raise BadImage(f"{path}: truncated or corrupt image (OpenCV could not decode it)")
    height, width = image.shape[:2]
    if height * width > max_pixels:
        raise BadImage(
            f"{path}: image too large ({width} x {height} = {width * height} pixels, "
            f"max_pixels is {max_pixels})"
        )
    return _to_bgr8(image, path)


def verify_image(
    path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[int, int]:
    """(width, height) of the image at `path`, after decoding it fully (`read_image`'s checks).

    Raises as `read_image` does.
    """
    height, width = read_image(path, max_pixels).shape[:2]
    return int(width), int(height)
