"""`pose3d submit`: a challenge submission, the 3D of every image of the Test split as the
challenge's POSE CSVs (docs/predict.md, "A challenge submission").

    pose3d submit --zip   # data/infer_2d/cr.parquet, data/train_lifter/checkpoint.pt -> submission/

Reads the ``extract`` stage's ``challenge.parquet`` (the split's images; the image folder it
read them from too, where at hand), a keypoint cache with their 2D (default ``infer_2d``'s
``cr.parquet``, the paper's route) and a lifter checkpoint. Each image's 2D is lifted as the
``lifting`` stage lifts the challenge's Val (image size from the table, principal point at the
image centre, no camera) and as ``pose3d predict --keypoints`` does. Writes
``<out>/<split>/POSE/%05d.csv`` for every image and ``<out>/summary.json`` (optionally
``<out>/submission.zip``) in a folder built aside, read back (`pose3d.submission`) and swapped
in whole (`pose3d.io.atomic_dir`): a failed run leaves the previous submission as it was.

An image with no 2D in the cache (unreadable when ``infer_2d`` ran, left out of the table by
``extract``'s ``on_error: skip``, or a cache of other images) is filled with the lifter's
training-mean pose, counted and named in the summary; with ``fill_missing`` off it stops the
command instead. A cache without the split stops it, naming the command that makes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from pose3d.frames import read_frames
from pose3d.io import atomic_dir, write_json_atomic
from pose3d.keypoints import read_keypoints
from pose3d.skeleton import H36M17_JOINTS, NUM_JOINTS
from pose3d.submission import (
    SUBMISSION_SPLIT,
    MissingKeypoints,
    SplitMatch,
    check_submission,
    image_folder_numbers,
    match_split,
    training_mean_pose,
    write_poses,
    zip_submission,
)
from tasks._prefect import logger
from tasks.lifter.inference import load_lifter
from tasks.predict import MissingWeights, lift
from tasks.route.images import file_sha256

SUMMARY = "summary.json"
ZIP = "submission.zip"
SCHEMA = "pose3d.submission"
FALLBACK = "the lifter's training-mean pose (its mean training target; Pelvis at 0)"


@dataclass(frozen=True)
class SubmitInputs:
    """What a submission is made of and where it goes: the keypoint cache, the lifter
    checkpoint, ``extract``'s ``challenge.parquet``, the output folder; the split, the torch
    device, whether images without 2D are filled (else refused), whether a zip is added."""

    keypoints: Path
    lifter: Path
    frames: Path
    out: Path
    split: str = SUBMISSION_SPLIT
    device: str = "cpu"
    fill_missing: bool = True
    zip: bool = False


def _check_out(out: Path) -> None:
    """The output folder is replaced whole: refuse one that holds anything but a submission."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file; name a folder for the submission with -o")
    if out.is_dir() and any(out.iterdir()) and not (out / SUMMARY).is_file():
        raise ValueError(
            f"{out}: not empty and not a submission (no {SUMMARY}): it would be replaced whole; "
            "name a new folder with -o"
        )


def _file(path: Path) -> dict[str, str]:
    return {"path": str(path), "sha256": file_sha256(path)}


def _missing_joints(match: SplitMatch, input_joints: tuple[int, ...]) -> int:
    """Images whose 2D misses a joint the lifter reads (lifted as that joint's training mean)."""
    kp = match.kp2d_px[match.has_2d][:, list(input_joints)]
    return int((~np.isfinite(kp).all(axis=(1, 2))).sum())


def _say_fallbacks(match: SplitMatch, inputs: SubmitInputs) -> None:
    """Warn of (or, without `fill_missing`, refuse) the images that have no 2D."""
    missing = match.number[~match.has_2d]
    if len(missing) == 0:
        return
    first = ", ".join(f"{int(n):05d}" for n in missing[:5])
    not_listed = int((~match.in_table).sum())
    unlisted = f"; {not_listed} of them not in {inputs.frames}, left out by `extract`"
    said = (
        f"{inputs.keypoints}: {len(missing)} of {len(match.number)} {inputs.split} images have "
        f"no 2D (first: {first}{unlisted if not_listed else ''}); unreadable images are named "
        "in infer_2d's report.json"
    )
    if not inputs.fill_missing:
        raise MissingKeypoints(f"{said}; without --no-fallback they get {FALLBACK}")
    logger().warning("%s; they get %s", said, FALLBACK)


def _read_inputs(inputs: SubmitInputs) -> tuple[pa.Table, pa.Table]:
    """The frames table and the keypoint cache, after checking that every input is there."""
    if not inputs.lifter.is_file():
        raise MissingWeights(
            f"{inputs.lifter}: no lifter checkpoint yet: train it with `make run` (or `dvc repro "
            "train_lifter`), or name one with --lifter"
        )
    _check_out(inputs.out)
    if not inputs.frames.is_file():
        raise FileNotFoundError(f"{inputs.frames}: no challenge frames table (`dvc repro extract`)")
    if not inputs.keypoints.is_file():
        raise FileNotFoundError(
            f"{inputs.keypoints}: no keypoint cache there: make it with `dvc repro infer_2d` "
            f"({inputs.split} in infer_2d.splits), or name one with --keypoints"
        )
    return read_frames(inputs.frames), read_keypoints(inputs.keypoints)


def _summary(
    inputs: SubmitInputs, match: SplitMatch, input_joints: tuple[int, ...], folder: Path | None
) -> dict[str, Any]:
    """``summary.json``: what was written from what, and how each image got its pose."""
    fallback = match.number[~match.has_2d]
    return {
        "schema": SCHEMA,
        "split": inputs.split,
        "images": len(match.number),
        "images_in_table": int(match.in_table.sum()),
        "lifted": int(match.has_2d.sum()),
        "fallback": {
            "pose": FALLBACK,
            "count": len(fallback),
            "images": [int(n) for n in fallback],
        },  # fmt: skip
        "no_person": int(match.no_person.sum()),
        "missing_joints": _missing_joints(match, input_joints),
        "cache_rows_unmatched": match.cache_rows_unmatched,
        "image_folder": None if folder is None else str(folder),
        "layout": {
            "files": f"{inputs.split}/POSE/%05d.csv",
            "rows": list(H36M17_JOINTS),
            "columns": "x,y,z",
            "units": "mm",
            "frame": "camera (x right, y down, z forward), minus the Pelvis",
        },  # fmt: skip
        "lifter": _file(inputs.lifter),
        "keypoints": _file(inputs.keypoints),
        "frames": _file(inputs.frames),
        "device": inputs.device,
        "zip": ZIP if inputs.zip else None,
    }


def run_submit(inputs: SubmitInputs) -> dict[str, Any]:
    """Lift, write, read back; returns the summary (also ``<out>/summary.json``). Raises
    MissingWeights (no lifter), FileNotFoundError (no table or cache), MissingKeypoints (the
    cache lacks the split, or an image with `fill_missing` off), ValueError (a bad input, an
    output folder that is not a submission, a written file that does not read back as meant),
    each naming the file."""
    frames, keypoints = _read_inputs(inputs)
    folder, on_disk = image_folder_numbers(frames, inputs.split)
    where = (str(inputs.frames), str(inputs.keypoints))
    match = match_split(frames, keypoints, inputs.split, where, on_disk)
    _say_fallbacks(match, inputs)
    if match.cache_rows_unmatched:
        logger().warning(
            "%s: %d %s rows name no image of %s (a cache of another extract?); left out",
            inputs.keypoints, match.cache_rows_unmatched, inputs.split, inputs.frames,
        )  # fmt: skip
    lifter = load_lifter(inputs.lifter, NUM_JOINTS, torch.device(inputs.device))
    poses = np.repeat(training_mean_pose(lifter.stats)[None], len(match.number), axis=0)
    has = match.has_2d
    poses[has] = lift(lifter, match.kp2d_px[has], match.image_wh[has])
    summary = _summary(inputs, match, lifter.stats.input_joints, folder)
    with atomic_dir(inputs.out) as tmp:
        write_poses(tmp, inputs.split, match.number, poses)
        check_submission(tmp, inputs.split, match.number, poses)
        if inputs.zip:
            zip_submission(tmp, inputs.split, tmp / ZIP)
        write_json_atomic(tmp / SUMMARY, summary)
    return summary
