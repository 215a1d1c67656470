"""The paper's 2D route on images, the part `infer_2d` and `pose3d predict` share: detect the
person (`tasks.route.detector`), crop the square around the best box and resize it to the
CPN's input (CR, `pose3d.crop`), run the CPN (`tasks.route.cpn`), and map its keypoints back
to the image (ICR); or, for the paper's "w.o. CR" (``full``), the whole image letterboxed into
its square; or, for the error budget (``gt_box``), the same CR around given (label) boxes instead
of the detector's. Also the digests that name a checkpoint in the caches and predictions made
with it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.crop import Square, crop_box, crop_image, crop_transform, from_crop, full_image_square
from pose3d.images import BadImage
from pose3d.skeleton import NUM_JOINTS
from tasks.route.frames import read_rgb

FILL = 0.0  # crop pixels outside the image

Detect = Callable[[list[np.ndarray]], list[tuple[np.ndarray, float] | None]]
Keypoints = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Networks:
    """The two networks as functions: `detect` (RGB images -> best person box and score, or
    None) and `keypoints` (crops (N, S, S, 3) uint8 RGB -> crop px (N, 17, 2), scores (N, 17))."""

    detect: Detect | None
    keypoints: Keypoints
    input_size: int


@dataclass
class Timer:
    """Seconds spent in each network and in the whole shard."""

    detect: float = 0.0
    cpn: float = 0.0
    total: float = 0.0


def square_for(
    variant: str, width: int, height: int, detection: tuple[np.ndarray, float] | None,
    min_score: float, margin: float,
) -> tuple[Square, np.ndarray]:  # fmt: skip
    """The square the CPN sees and the box to store (NaN: none, the whole image was used)."""
    no_box = np.full(4, np.nan)
    if variant == "full" or detection is None or detection[1] < min_score:
        return full_image_square(width, height), no_box
    box = np.asarray(detection[0], dtype=np.float64)
    if not (np.isfinite(box).all() and box[2] > box[0] and box[3] > box[1]):
        return full_image_square(width, height), no_box
    return crop_box(box, margin), box


def infer_images(
    images: Sequence[np.ndarray], nets: Networks, variants: Sequence[str], min_score: float,
    margin: float, timer: Timer,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:  # fmt: skip
    """Both variants for a batch of RGB images. Returns variant -> (kp2d_px (N, 17, 2) image px,
    scores (N, 17), box_xyxy_px (N, 4) NaN = none, person score (N,) NaN = no detector)."""
    detections: list[tuple[np.ndarray, float] | None] = [None] * len(images)
    if "cr" in variants:
        if nets.detect is None:
            raise ValueError("infer_2d: the cr variant needs a detector")
        t0 = time.perf_counter()
        detections = nets.detect(list(images))
        timer.detect += time.perf_counter() - t0
    out = {}
    for variant in variants:
        squares, boxes = [], []
        for image, det in zip(images, detections, strict=True):
            height, width = image.shape[:2]
            square, box = square_for(variant, width, height, det, min_score, margin)
            squares.append(square)
            boxes.append(box)
        kp, scores = keypoints_in_squares(images, squares, nets, timer)
        person = np.array([np.nan if d is None else d[1] for d in detections])
        if variant == "full":
            person = np.full(len(images), np.nan)
        out[variant] = (kp, scores, np.stack(boxes), person)
    return out


def keypoints_in_squares(
    images: Sequence[np.ndarray], squares: Sequence[Square], nets: Networks, timer: Timer
) -> tuple[np.ndarray, np.ndarray]:
    """The CPN on each image's square (CR), its keypoints mapped back to the image (ICR).
    Returns kp2d_px (N, 17, 2) image px, scores (N, 17)."""
    size = nets.input_size
    crops = [
        crop_image(image, sq, size, fill=FILL) for image, sq in zip(images, squares, strict=True)
    ]
    affines = np.stack([crop_transform(sq, size) for sq in squares])
    t0 = time.perf_counter()
    kp_crop, scores = nets.keypoints(np.stack(crops))
    timer.cpn += time.perf_counter() - t0
    kp = from_crop(np.asarray(kp_crop, dtype=np.float64), affines)
    return kp, np.asarray(scores, np.float64)


def infer_label_boxes(
    images: Sequence[np.ndarray], boxes_xyxy_px: np.ndarray, nets: Networks, margin: float,
    timer: Timer,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The ``gt_box`` variant: as ``cr``, but around the given boxes (the frames table's label
    boxes) instead of the detector's best one, so that the CPN's own error shows apart from the
    detector's. Shapes: boxes_xyxy_px (N, 4), each finite with a positive width and height.
    Returns as `infer_images` does: kp2d_px (N, 17, 2), scores (N, 17), the boxes (N, 4), person
    score (N,) all NaN (no detector)."""
    boxes = np.asarray(boxes_xyxy_px, dtype=np.float64).reshape(-1, 4)
    bad = boxes[~has_box(boxes)]
    if len(bad):
        raise ValueError(f"gt_box: a box needs a positive width and height, got {bad[0].tolist()}")
    if len(boxes) == 0:
        empty = np.zeros((0, NUM_JOINTS, 2))
        return empty, np.zeros((0, NUM_JOINTS)), boxes, np.zeros(0)
    squares = [crop_box(box, margin) for box in boxes]
    kp, scores = keypoints_in_squares(images, squares, nets, timer)
    return kp, scores, boxes, np.full(len(boxes), np.nan)


def has_box(boxes_xyxy_px: np.ndarray) -> np.ndarray:
    """Which rows hold a usable box: finite, with a positive width and height. Shapes:
    boxes_xyxy_px (N, 4) -> (N,) bool."""
    b = np.asarray(boxes_xyxy_px, dtype=np.float64).reshape(-1, 4)
    with np.errstate(invalid="ignore"):
        return np.isfinite(b).all(axis=1) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])


def decode_image(path: str, max_pixels: int) -> np.ndarray | str:
    """The RGB image, or the reason it cannot be used (named by `pose3d.images`)."""
    try:
        return read_rgb(path, max_pixels)
    except (BadImage, FileNotFoundError, OSError) as err:
        return str(err)


@functools.lru_cache(maxsize=2)
def load_networks(detector: str, cpn: str, device: str, need_detector: bool) -> Networks:
    """The two trained networks of this process, loaded once per process (threads and Dask
    workers alike)."""
    import torch

    from tasks.route.cpn import load_cpn, predict_crops
    from tasks.route.detector import detect_best_boxes, load_detector

    dev = torch.device(device)
    pose = load_cpn(cpn, dev)
    det = load_detector(detector, dev) if need_detector else None
    return Networks(
        detect=None if det is None else functools.partial(detect_best_boxes, det),
        keypoints=functools.partial(predict_crops, pose),
        input_size=int(pose.input_size),
    )


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def weights_digest(path: str | Path) -> str:
    """sha256 of what a checkpoint computes with: its config and every weight tensor (name,
    dtype, shape, bytes). Unlike the file's sha256 it ignores the training history stored beside
    them (wall times), so a retrained identical network gives the same digest, and the caches
    made with it the same bytes."""
    import torch

    from tasks.engine import load_checkpoint

    state = load_checkpoint(path)
    digest = hashlib.sha256(json.dumps(state["config"], sort_keys=True, default=str).encode())
    for name, tensor in sorted(state["model"].items()):
        array = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{array.dtype}:{tuple(array.shape)}".encode())
        digest.update(array.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
