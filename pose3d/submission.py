"""A challenge submission: one POSE CSV per image of a split, read back as the challenge reads it.

The ECCV 2018 PoseTrack 3D challenge takes its Test predictions in the layout of its own labels
(`pose3d.formats.challenge`): ``<out>/Test/POSE/%05d.csv``, one per image of ``Test/IMG``, each
17 rows ``x,y,z``: the H36M-17 joints (`pose3d.skeleton`, the challenge's order) in the camera
frame, millimetres, minus the Pelvis (row 1 is ``0,0,0``).

`match_split` pairs the images of a split (the ``extract`` stage's frames table, and the image
folder where it is at hand) with their 2D in a keypoint cache; `write_poses` writes the CSVs;
`check_submission` reads a written folder back with the project's own reader and refuses what
the challenge would: a missing or extra file, a row that is not 3 finite numbers, a Pelvis off
zero, a pose other than the one meant. The command around them is `pose3d submit`
(`tasks.submit`, docs/predict.md).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pose3d.formats.challenge import (
    IMAGE_DIR,
    POSE_DIR,
    list_images,
    list_poses,
    pose_path,
    read_pose_csv,
    write_pose_csv,
)
from pose3d.frames import frames_arrays
from pose3d.keypoints import keypoints_to_arrays, match_rows
from pose3d.keypoints_schema import IDENTITY_COLUMNS
from pose3d.lifting.normalization import NormStats, denormalize_3d
from pose3d.skeleton import NUM_JOINTS, ROOT

SUBMISSION_SPLIT = "Test"
CSV_TOLERANCE_MM = 1e-6  # write_pose_csv keeps 6 decimals: a read-back pose is this close


class MissingKeypoints(ValueError):
    """The keypoint cache lacks 2D the submission needs; the message says how to make it."""


@dataclass(frozen=True)
class SplitMatch:
    """The images of one split and their 2D.

    Shapes: number (N,) int64, sorted image numbers; kp2d_px (N, 17, 2) px, NaN where `has_2d`
    is False; image_wh (N, 2) px, NaN = unknown; has_2d, in_table, no_person (N,) bool
    (no_person: the cache's box is null, the whole image was used).
    """

    number: np.ndarray
    kp2d_px: np.ndarray
    image_wh: np.ndarray
    has_2d: np.ndarray
    in_table: np.ndarray
    no_person: np.ndarray
    cache_rows_unmatched: int  # cache rows of the split that name no image of the table


def split_rows(table: pa.Table, split: str) -> pa.Table:
    """The ``challenge`` rows of `split` in a frames table or keypoint cache."""
    mask = pc.and_(pc.equal(table["dataset"], "challenge"), pc.equal(table["split"], split))
    return table.filter(mask)


def _found_splits(table: pa.Table) -> list[str]:
    """The challenge splits a table has rows of."""
    rows = table.filter(pc.equal(table["dataset"], "challenge"))
    return sorted(set(rows["split"].to_pylist()))


def match_split(
    frames: pa.Table, keypoints: pa.Table, split: str, where: tuple[str, str],
    disk_numbers: Sequence[int] | None = None,
) -> SplitMatch:  # fmt: skip
    """Pair the `split` images of `frames` (and `disk_numbers`, the image folder's numbers
    where it is at hand) with person 0 of their `keypoints` rows, joined on the identity
    columns (one source and person per image: a cache's keys are unique). `where` names the two
    files. Raises ValueError when the table has no image of the split or names one twice, or the
    cache mixes sources; MissingKeypoints when no cache row is an image of the split."""
    table_rows = split_rows(frames, split)
    table = frames_arrays(table_rows)
    if len(table["frame"]) == 0:
        raise ValueError(
            f"{where[0]}: no challenge images of split {split!r} (it has {_found_splits(frames)});"
            f" add {split} to extract.challenge_splits and run `dvc repro extract`"
        )
    numbers, counts = np.unique(table["frame"], return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{where[0]}: {split} image {int(numbers[counts > 1][0])} listed twice")
    cache_rows = split_rows(keypoints, split)
    cache_rows = cache_rows.filter(pc.equal(cache_rows["person"], 0))
    if cache_rows.num_rows == 0:
        raise MissingKeypoints(
            f"{where[1]}: no 2D for the {split} split (the cache holds challenge splits "
            f"{_found_splits(keypoints)}); all {len(numbers)} {split} images of {where[0]} "
            f"need it: add {split} to infer_2d.splits in params.yaml (e.g. [Train, Val, {split}])"
            " and run `dvc repro infer_2d`, or name another cache with --keypoints"
        )
    sources = sorted(set(cache_rows["source"].to_pylist()))
    if len(sources) > 1:
        raise ValueError(f"{where[1]}: {split} rows of several sources {sources}; keep one")
    li, ri = match_rows(table_rows, cache_rows, IDENTITY_COLUMNS)
    if len(li) == 0:
        raise MissingKeypoints(
            f"{where[1]}: none of its {cache_rows.num_rows} {split} rows names an image of "
            f"{where[0]} (a cache made from another extract?): run `dvc repro infer_2d`"
        )
    kp = keypoints_to_arrays(cache_rows.take(pa.array(ri)))
    every = np.union1d(numbers, np.asarray(disk_numbers if disk_numbers is not None else [], int))
    at = np.searchsorted(every, table["frame"][li])
    n = len(every)
    kp2d_px = np.full((n, NUM_JOINTS, 2), np.nan)
    kp2d_px[at] = kp.kp2d_px
    size = np.stack([table["image_width"], table["image_height"]], axis=-1).astype(np.float64)
    image_wh = np.full((n, 2), np.nan)
    image_wh[np.searchsorted(every, table["frame"])] = np.where(size > 0, size, np.nan)
    known = np.isfinite(image_wh[at]).all(axis=1, keepdims=True)
    image_wh[at] = np.where(known, image_wh[at], kp.image_wh)  # the table's, else the cache's
    has_2d = np.zeros(n, dtype=bool)
    has_2d[at] = True
    no_person = np.zeros(n, dtype=bool)
    no_person[at] = ~np.isfinite(kp.box_xyxy_px).all(axis=1)
    return SplitMatch(
        every.astype(np.int64), kp2d_px, image_wh, has_2d, np.isin(every, numbers), no_person,
        cache_rows.num_rows - len(ri),
    )  # fmt: skip


def image_folder_numbers(frames: pa.Table, split: str) -> tuple[Path | None, list[int] | None]:
    """The image folder of the table's `split` images (``<root>/<split>/IMG``, where ``extract``
    read them) and the numbers of the images in it now, files of other names passed over:
    (None, None) where the rows name no single such folder or it is not at hand."""
    paths = {Path(p).parent for p in split_rows(frames, split)["image_path"].to_pylist() if p}
    if len(paths) != 1:
        return None, None
    folder = paths.pop()
    if folder.name != IMAGE_DIR or folder.parent.name != split or not folder.is_dir():
        return None, None
    return folder, list_images(folder.parent.parent, split, on_bad=lambda path, reason: None)


def training_mean_pose(stats: NormStats) -> np.ndarray:
    """A lifter's mean training target: the pose it falls back to. Shapes: -> (J, 3) mm,
    root-relative (the root at 0)."""
    return denormalize_3d(np.zeros((1, 3 * (stats.num_joints - 1))), stats)[0]


def write_poses(
    root: str | os.PathLike[str], split: str, numbers: np.ndarray, pose3d_cam_mm: np.ndarray
) -> None:
    """``<root>/<split>/POSE/<number>.csv`` per image, root-relative (an exact 0 row: no
    ``-0.000000``). Shapes: numbers (N,), pose3d_cam_mm (N, 17, 3) mm."""
    poses = np.asarray(pose3d_cam_mm, dtype=np.float64)
    if poses.shape != (len(numbers), NUM_JOINTS, 3):
        raise ValueError(f"expected poses of shape ({len(numbers)}, 17, 3), got {poses.shape}")
    poses = poses - poses[:, ROOT : ROOT + 1]
    (Path(root) / split / POSE_DIR).mkdir(parents=True, exist_ok=True)
    for number, pose in zip(numbers, poses, strict=True):
        write_pose_csv(pose_path(root, split, int(number)), pose)


def check_submission(
    root: str | os.PathLike[str], split: str, numbers: np.ndarray, pose3d_cam_mm: np.ndarray
) -> None:
    """Read ``<root>/<split>/POSE`` back: one file per number and no other, each 17 rows of 3
    finite numbers, the Pelvis at 0, the pose meant (root-relative, within the CSV's rounding).
    Raises ValueError naming the first bad file. Shapes: numbers (N,), pose3d_cam_mm (N, 17, 3)."""
    written = list_poses(root, split)
    if written is None:
        raise ValueError(f"{Path(root) / split / POSE_DIR}: no such folder")
    extra = sorted(set(written) - set(int(n) for n in numbers))
    absent = sorted(set(int(n) for n in numbers) - set(written))
    if extra or absent:
        raise ValueError(
            f"{Path(root) / split / POSE_DIR}: {len(written)} files for {len(numbers)} images "
            f"(missing {absent[:5]}, not images {extra[:5]})"
        )
    meant = np.asarray(pose3d_cam_mm, np.float64)
    meant = meant - meant[:, ROOT : ROOT + 1]
    for number, pose in zip(numbers, meant, strict=True):
        path = pose_path(root, split, int(number))
        got = read_pose_csv(path)  # 17 rows of 3 finite numbers, or ValueError naming it
        if (got[ROOT] != 0).any():
            raise ValueError(f"{path}: the Pelvis (row {ROOT + 1}) is {got[ROOT]}, not 0,0,0")
        off = float(np.abs(got - pose).max())
        if off > CSV_TOLERANCE_MM:
            raise ValueError(f"{path}: reads back {off:.3g} mm off the pose written")


def zip_submission(root: str | os.PathLike[str], split: str, out: str | os.PathLike[str]) -> int:
    """The CSVs of ``<root>/<split>/POSE`` into the zip `out` under ``<split>/POSE/``; returns
    how many."""
    folder = Path(root) / split / POSE_DIR
    paths = sorted(folder.glob("*.csv"))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, f"{split}/POSE/{path.name}")
    return len(paths)
