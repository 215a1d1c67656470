"""`pose3d predict`: a pipeline run's trained networks on a user's images, folders or videos,
or a lifter on 2D keypoints the user already has (docs/predict.md).

Images: each frame goes through `tasks.route.images.infer_images`' ``cr`` route (detect,
crop-and-resize, CPN, inverse crop on the best person boxes, the likeliest kept, refine passes;
no box scoring ``min_person_score``: the whole image, flagged), then
`tasks.lifter.inference.predict_lifter`. Keypoints: a keypoint cache (`pose3d.keypoints`) or
a JSON file (`pose3d.predictions`) straight into a lifter. Either way the
result is one JSON file of `pose3d.predictions`' schema, written atomically; inputs that cannot
be read are named in the log and in its ``errors``, and the rest goes on.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from pose3d.formats.video import iter_frames as iter_video_frames
from pose3d.formats.video import probe_video
from pose3d.keypoints import keypoints_to_arrays, read_keypoints
from pose3d.lifting.geometry import GEOMETRY_COLUMNS
from pose3d.plots import fig3_figure, save_figure
from pose3d.predictions import (
    FramePrediction,
    KeypointFrames,
    predictions_document,
    read_keypoints_json,
    write_predictions,
)
from pose3d.skeleton import H36M17_JOINTS, NUM_JOINTS
from tasks._prefect import logger, progress
from tasks.lifter.inference import LoadedLifter, load_lifter, predict_lifter
from tasks.route.images import (
    Networks,
    Timer,
    decode_image,
    file_sha256,
    infer_images,
    load_networks,
)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
STAGE_OF = {"detector": "train_detector", "cpn": "train_cpn", "lifter": "train_lifter"}


class MissingWeights(FileNotFoundError):
    """A checkpoint `pose3d predict` needs is not there; the message says how to make it."""


@dataclass(frozen=True)
class Weights:
    """Checkpoint paths; the detector and the CPN are needed for images only."""

    lifter: Path
    detector: Path | None = None
    cpn: Path | None = None


@dataclass(frozen=True)
class PredictSettings:
    """How images are run: crop margin, the score below which nobody counts as found, the
    largest image accepted, the refine passes and the person candidates
    (`tasks.route.images.route_keypoints`), frames per batch, torch device."""

    margin: float = 0.25
    min_person_score: float = 0.2
    max_pixels: int = 50_000_000
    refine_passes: int = 2
    person_candidates: int = 3
    batch_size: int = 8
    device: str = "cpu"


@dataclass(frozen=True)
class Frame:
    """One decoded input frame. Shapes: image_rgb (H, W, 3) uint8."""

    source: str
    index: int
    image_rgb: np.ndarray


def weights_header(weights: Weights) -> dict[str, dict[str, str]]:
    """{name: {path, sha256}} of the checkpoints given; MissingWeights naming the first absent."""
    named = {"detector": weights.detector, "cpn": weights.cpn, "lifter": weights.lifter}
    out = {}
    for name, path in named.items():
        if path is None:
            continue
        if not Path(path).is_file():
            raise MissingWeights(
                f"{path}: no {name} checkpoint yet: train it with `make run` (or `dvc repro "
                f"{STAGE_OF[name]}`), or name one with --weights-dir or --{name}"
            )
        out[name] = {"path": str(path), "sha256": file_sha256(path)}
    return out


def lift(
    lifter: LoadedLifter,
    kp2d_px: np.ndarray,
    image_wh: np.ndarray,
    scores: np.ndarray | None = None,
) -> np.ndarray:
    """`predict_lifter` for frames of any camera: where the image size is unknown (NaN) it is
    taken as twice the centre of the keypoints' extent (the flip test mirrors about that
    centre); a lifter with the floor input gets unknown view geometry (its training mean); one
    trained with ``min_score`` gets the joints scored below it as missing. Shapes: kp2d_px
    (N, 17, 2), image_wh (N, 2), scores (N, 17) or None -> (N, 17, 3) mm, root-relative."""
    wh = np.array(image_wh, dtype=np.float64).reshape(-1, 2)
    unknown = ~np.isfinite(wh).all(axis=1)
    if unknown.any():
        lo, hi = np.nanmin(kp2d_px[unknown], axis=1), np.nanmax(kp2d_px[unknown], axis=1)
        wh[unknown] = lo + hi
    geometry = None
    if lifter.stats.floor_input:
        geometry = np.full((len(wh), len(GEOMETRY_COLUMNS)), np.nan)
    return predict_lifter(lifter, kp2d_px, wh, geometry=geometry, scores=scores)


def expand_inputs(paths: Sequence[Path]) -> list[Path]:
    """Folders replaced by their images and videos (sorted, not recursive: a folder's subfolders
    are named in a warning, to be given as inputs of their own); files kept."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
            out += sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
            inner = sorted(p.name for p in path.iterdir() if p.is_dir())
            if inner:
                logger().warning(
                    "%s: subfolders not looked into (%s); give them as inputs to include them",
                    path, ", ".join(inner),
                )  # fmt: skip
        else:
            out.append(path)
    return out


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def count_frames(paths: Sequence[Path]) -> int:
    """Frames to expect (for progress): 1 per image, the container's count per video (0 for one
    that cannot be opened: it is reported when read)."""
    total = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError, ValueError):
            total += probe_video(path).frames if is_video(path) else 1
    return total


def iter_frames(
    paths: Sequence[Path], max_pixels: int, errors: list[dict[str, str]]
) -> Iterator[Frame]:
    """Every frame of `paths` in order; what cannot be read is logged, appended to `errors` as
    {source, error} and skipped."""
    for path in paths:
        if not is_video(path):
            image = decode_image(str(path), max_pixels)
            if isinstance(image, str):
                _skip(errors, path, image)
            else:
                yield Frame(str(path), 0, image)
            continue
        try:
            decoded = 0
            for index, image_bgr in iter_video_frames(path, itertools.count()):
                decoded += 1
                yield Frame(str(path), index, cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
            if decoded == 0:
                _skip(errors, path, f"{path}: no frame could be decoded")
        except (FileNotFoundError, ValueError) as err:
            _skip(errors, path, str(err))


def _skip(errors: list[dict[str, str]], path: Path, reason: str) -> None:
    logger().warning("skipped: %s", reason)
    errors.append({"source": str(path), "error": reason})


def _batches(items: Iterable[Frame], size: int) -> Iterator[list[Frame]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


def predict_images(
    nets: Networks, lifter: LoadedLifter, frames: Iterable[Frame], settings: PredictSettings
) -> Iterator[tuple[Frame, FramePrediction]]:
    """Detect -> CR -> CPN -> ICR -> lifter, a batch of frames at a time."""
    for batch in _batches(frames, settings.batch_size):
        images = [f.image_rgb for f in batch]
        out = infer_images(images, nets, ("cr",), settings.min_person_score, settings.margin,
                           Timer(), settings.refine_passes, settings.person_candidates)  # fmt: skip
        kp, scores, boxes, person = out["cr"]
        wh = np.array([[im.shape[1], im.shape[0]] for im in images], dtype=np.float64)
        pose = lift(lifter, kp, wh, scores)
        for i, frame in enumerate(batch):
            found = bool(np.isfinite(boxes[i]).all())
            yield frame, FramePrediction(
                frame.source, frame.index, (int(wh[i, 0]), int(wh[i, 1])), found,
                boxes[i] if found else None,
                float(person[i]) if np.isfinite(person[i]) else None,
                kp[i], np.clip(scores[i], 0, None), pose[i],
            )  # fmt: skip


def save_frame_figure(frame: Frame, pred: FramePrediction, out_dir: Path) -> Path:
    """The Fig. 3 picture of one frame (image, box, 2D; the 3D prediction) as
    ``<out_dir>/<file stem>_<frame>.png``."""
    box = np.full(4, np.nan) if pred.box_xyxy_px is None else pred.box_xyxy_px
    title = f"{Path(frame.source).name} #{frame.index}" + ("" if pred.box_xyxy_px is not None
                                                            else " (no person found)")  # fmt: skip
    fig = fig3_figure([frame.image_rgb], box[None], pred.kp2d_px[None],
                      pred.pose3d_cam_mm[None], None, [title])  # fmt: skip
    path = out_dir / f"{Path(frame.source).stem}_{frame.index:06d}.png"
    save_figure(fig, path)
    return path


def run_predict_images(
    inputs: Sequence[Path], weights: Weights, settings: PredictSettings, out_json: Path,
    figures_dir: Path | None = None,
) -> dict[str, int]:  # fmt: skip
    """Images, folders and videos -> `out_json` (and figures); nothing is written when no frame
    could be read. Returns counts {frames, errors, no_person}. Raises MissingWeights before
    anything is read when a checkpoint is absent."""
    header = weights_header(weights)
    if weights.detector is None or weights.cpn is None:
        raise MissingWeights("images need a detector and a CPN checkpoint")
    device = torch.device(settings.device)
    nets = load_networks(str(weights.detector), str(weights.cpn), settings.device, True)
    lifter = load_lifter(weights.lifter, NUM_JOINTS, device)
    paths = expand_inputs(inputs)
    errors: list[dict[str, str]] = []
    frames = progress(iter_frames(paths, settings.max_pixels, errors), count_frames(paths),
                      "predict")  # fmt: skip
    results = []
    for frame, pred in predict_images(nets, lifter, frames, settings):
        results.append(pred)
        if figures_dir is not None:
            save_frame_figure(frame, pred, figures_dir)
    if results:  # nothing readable: nothing written
        write_predictions(out_json, predictions_document(results, header, asdict(settings), errors))
    no_person = sum(p.box_xyxy_px is None for p in results)
    return {"frames": len(results), "errors": len(errors), "no_person": no_person}


def read_keypoint_input(path: Path) -> KeypointFrames:
    """2D keypoints from a keypoint cache (.parquet) or a JSON file (`pose3d.predictions`)."""
    if path.suffix.lower() != ".parquet":
        return read_keypoints_json(path)
    table = read_keypoints(path)
    arrays = keypoints_to_arrays(table)
    names = zip(*(table.column(c).to_pylist() for c in ("subject", "action", "camera")),
                strict=True)  # fmt: skip
    source = ["/".join(part for part in parts if part) or path.name for parts in names]
    return KeypointFrames(source, arrays.frame, arrays.kp2d_px.astype(np.float64),
                          arrays.scores.astype(np.float64), arrays.image_wh)  # fmt: skip


def _say_missing(given: KeypointFrames, input_joints: Sequence[int]) -> None:
    """Log the frames with a missing joint that the lifter reads: it is lifted with the training
    mean in that joint's place (`pose3d.lifting.normalization`), which the user should know."""
    missing = ~np.isfinite(given.kp2d_px[:, list(input_joints)]).all(axis=-1)
    frames = np.flatnonzero(missing.any(axis=1))
    if len(frames) == 0:
        return
    i = int(frames[0])
    names = [H36M17_JOINTS[input_joints[int(j)]] for j in np.flatnonzero(missing[i])]
    logger().warning(
        "%d of %d frames miss joints the lifter reads; a missing joint is lifted as its training "
        "mean (first: %s frame %d, %s)", len(frames), len(missing), given.source[i],
        int(given.frame[i]), ", ".join(names),
    )  # fmt: skip


def run_lift(keypoints: Path, lifter_path: Path, out_json: Path, device: str = "cpu") -> dict:
    """Given 2D keypoints -> `out_json`, lifted by the checkpoint at `lifter_path`."""
    header = weights_header(Weights(lifter=lifter_path))
    lifter = load_lifter(lifter_path, NUM_JOINTS, torch.device(device))
    given = read_keypoint_input(keypoints)
    _say_missing(given, lifter.stats.input_joints)
    pose = lift(lifter, given.kp2d_px, given.image_wh, given.scores)
    frames = [
        FramePrediction(
            given.source[i],
            int(given.frame[i]),
            None if not np.isfinite(wh).all() else (int(wh[0]), int(wh[1])),
            None,
            None,
            None,
            given.kp2d_px[i],
            given.scores[i],
            pose[i],
        )  # fmt: skip
        for i, wh in enumerate(given.image_wh)
    ]
    settings = {"input": str(keypoints), "device": device}
    write_predictions(out_json, predictions_document(frames, header, settings, []))
    return {"frames": len(frames), "errors": 0, "no_person": 0}
