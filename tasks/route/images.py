"""The paper's 2D route on images, the part `infer_2d` and `pose3d predict` share: detect the
person (`tasks.route.detector`), crop the square around a person box and resize it to the
CPN's input (CR, `pose3d.crop`), run the CPN (`tasks.route.cpn`), and map its keypoints back
to the image (ICR). Two steps beyond the paper (`route_keypoints`): the CPN reads the
detector's few best boxes and keeps the likeliest, then the square is drawn again around its
keypoints and the CPN runs once more (refine passes). Or, for the paper's "w.o. CR" (``full``),
the whole image letterboxed into its square; or, for the error budget (``gt_box``), the same CR
around given (label) boxes instead of the detector's. Also the digests that name a checkpoint
in the caches and predictions made with it.
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

from pose3d.crop import (
    KeypointSquare,
    Square,
    box_from_keypoints,
    crop_box,
    crop_image,
    crop_transform,
    from_crop,
    full_image_square,
)
from pose3d.images import BadImage
from pose3d.skeleton import NUM_JOINTS
from tasks.route.frames import read_rgb

FILL = 0.0  # crop pixels outside the image
MAX_RESIZE = 1.5  # refine passes keep the side within this factor of the detected square's

Detect = Callable[[list[np.ndarray]], list[list[tuple[np.ndarray, float]]]]
Keypoints = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Networks:
    """The two networks as functions: `detect` (RGB images -> each image's person boxes and
    scores, best first; empty where none) and `keypoints` (crops (N, S, S, 3) uint8 RGB -> crop
    px (N, 17, 2), scores (N, 17)), with how the CPN's training boxes sat around the keypoints
    (`keypoint_square`)."""

    detect: Detect | None
    keypoints: Keypoints
    input_size: int
    keypoint_square: KeypointSquare | None = None  # the CPN's; needed by refine passes


@dataclass
class Timer:
    """Seconds spent in each network and in the whole shard."""

    detect: float = 0.0
    cpn: float = 0.0
    total: float = 0.0


def infer_images(
    images: Sequence[np.ndarray], nets: Networks, variants: Sequence[str], min_score: float,
    margin: float, timer: Timer, refine_passes: int = 0, candidates: int = 1,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:  # fmt: skip
    """The ``cr`` and ``full`` variants for a batch of RGB images (`route_keypoints` and the
    whole image letterboxed). Returns variant -> (kp2d_px (N, 17, 2) image px, scores (N, 17),
    box_xyxy_px (N, 4) NaN = none, person score (N,) NaN = no detector)."""
    if refine_passes < 0 or candidates < 1:
        raise ValueError(
            f"refine_passes {refine_passes}, candidates {candidates}: expected >= 0, >= 1"
        )
    if refine_passes and "cr" in variants and nets.keypoint_square is None:
        raise ValueError(
            "refine passes need the CPN checkpoint's keypoint square, which checkpoints trained "
            "before them lack: retrain the CPN (dvc repro train_cpn) or set "
            "infer_2d.refine_passes: 0"
        )
    out = {}
    for variant in variants:
        if variant == "cr":
            if nets.detect is None:
                raise ValueError("infer_2d: the cr variant needs a detector")
            t0 = time.perf_counter()
            people = nets.detect(list(images))
            timer.detect += time.perf_counter() - t0
            out[variant] = route_keypoints(images, people, nets, min_score, margin, timer,
                                           candidates, refine_passes)  # fmt: skip
            continue
        squares = [full_image_square(im.shape[1], im.shape[0]) for im in images]
        kp, scores = keypoints_in_squares(images, squares, nets, timer)
        none = np.full(len(images), np.nan)
        out[variant] = (kp, scores, np.full((len(images), 4), np.nan), none)
    return out


def route_keypoints(
    images: Sequence[np.ndarray], people: Sequence[Sequence[tuple[np.ndarray, float]]],
    nets: Networks, min_score: float, margin: float, timer: Timer, candidates: int,
    refine_passes: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The paper's route on each image given its person boxes (best first): the square around
    each of its `candidates` best boxes scoring `min_score` (CR), the CPN on each, and the box
    whose ``sqrt(detector score) x mean keypoint score`` is highest kept (with one candidate,
    the detector's best box); no such box: the whole image, and no box. Then, where a box was
    kept, `refine_passes` times the square drawn again around the keypoints (`refine_squares`).
    Returns kp2d_px (N, 17, 2) image px, scores (N, 17), box_xyxy_px (N, 4) NaN = none (the
    kept detector box, also after refine passes), person score (N,) (the kept box's, else the
    best box's below `min_score`, else NaN)."""
    owner, squares, boxes, det_scores = [], [], [], []
    person = np.full(len(images), np.nan)
    for i, (image, found) in enumerate(zip(images, people, strict=True)):
        if found:
            person[i] = found[0][1]
        kept = [(np.asarray(b, np.float64), s) for b, s in found[:candidates] if s >= min_score]
        kept = [(b, s) for b, s in kept if has_box(b)[0]]
        if not kept:
            kept = [(np.full(4, np.nan), np.nan)]
        for box, score in kept:
            owner.append(i)
            boxes.append(box)
            det_scores.append(score)
            squares.append(crop_box(box, margin) if np.isfinite(score)
                           else full_image_square(image.shape[1], image.shape[0]))  # fmt: skip
    kp_all, scores_all = keypoints_in_squares([images[i] for i in owner], squares, nets, timer)
    rows = np.asarray(owner)
    choice = np.sqrt(np.nan_to_num(det_scores, nan=1.0)) * np.clip(scores_all.mean(axis=1), 0, None)
    pick = np.array(
        [np.flatnonzero(rows == i)[np.argmax(choice[rows == i])] for i in range(len(images))]
    )
    kp, scores = kp_all[pick], scores_all[pick]
    box = np.stack(boxes)[pick]
    person = np.where(np.isfinite(box).all(axis=1), np.asarray(det_scores)[pick], person)
    found_rows = np.flatnonzero(has_box(box)).tolist()
    if refine_passes and found_rows and nets.keypoint_square is not None:
        picked = [images[i] for i in found_rows]
        detected = [squares[p] for p in pick[found_rows]]
        for _ in range(refine_passes):
            redrawn = refine_squares(kp[found_rows], detected, nets.keypoint_square, margin)
            kp[found_rows], scores[found_rows] = keypoints_in_squares(picked, redrawn, nets, timer)
    return kp, scores, box, person


def refine_squares(
    kp2d_px: np.ndarray, detected: Sequence[Square], fit: KeypointSquare, margin: float
) -> list[Square]:
    """The CR square drawn again around each row's keypoints as the CPN's training label boxes
    sat around theirs (`pose3d.crop.box_from_keypoints`, then `crop_box` with `margin`): a
    detector's box off the person's centre, too large or too small, gives the CPN a second look
    at the person framed as in training. The side stays within `MAX_RESIZE` times the detected
    square's either way (joints bunched on one spot or spread to the crop's corners, as an
    untrained or lost CPN puts them, would shrink the square to nothing or grow it each pass);
    rows whose keypoints have no extent keep the detected square.
    Shapes: kp2d_px (N, 17, 2) image px, N squares -> N squares."""
    boxes = box_from_keypoints(kp2d_px, fit)
    out = []
    for box, usable, first in zip(boxes, has_box(boxes), detected, strict=True):
        if not usable:
            out.append(first)
            continue
        new = crop_box(box, margin)
        side = min(max(new.side, first.side / MAX_RESIZE), first.side * MAX_RESIZE)
        out.append(Square(new.cx, new.cy, side))
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
    from tasks.route.detector import detect_person_boxes, load_detector

    dev = torch.device(device)
    pose = load_cpn(cpn, dev)
    det = load_detector(detector, dev) if need_detector else None
    return Networks(
        detect=None if det is None else functools.partial(detect_person_boxes, det),
        keypoints=functools.partial(predict_crops, pose),
        input_size=int(pose.input_size),
        keypoint_square=pose.keypoint_square,
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
