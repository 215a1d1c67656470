"""Load the lifter's training and test rows from the pipeline's artifacts (params `lifting`)."""

from __future__ import annotations

from pathlib import Path

from pose3d.config import LiftingConfig, Params
from pose3d.frames import read_frames
from pose3d.keypoints import read_keypoints
from pose3d.lifting import LiftingDataset
from pose3d.lifting_tables import (
    Selection,
    lifting_from_tables,
    read_lifting_cameras,
    select_frames,
)
from tasks._prefect import logger, stage_task


def cameras_file(params: Params, dataset: str) -> Path:
    """Where the principal points of `dataset`'s cameras are (the file may be absent)."""
    if dataset == "h36m":
        return Path(params.paths.h36m_root) / "cameras.h5"
    return Path(params.paths.challenge_root) / "_labels" / "cameras.h5"


def keypoints_file(params: Params, source: str) -> Path:
    return Path(params.paths.import_keypoints) / f"{source}.parquet"


def load_lifting(params: Params, part: str) -> LiftingDataset:
    """Rows of the `train` or `test` part of ``params.lifting``: 3D from the extracted frames,
    2D from the keypoint cache source ``lifting.keypoints``.

    Raises ValueError naming the file when a part selects no rows with both 3D and 2D.
    """
    cfg: LiftingConfig = params.lifting
    if part not in ("train", "test"):
        raise ValueError(f"part {part!r}: expected 'train' or 'test'")
    frames_path = Path(params.paths.extract) / f"{cfg.dataset}.parquet"
    kp_path = keypoints_file(params, cfg.keypoints)
    if not kp_path.is_file():
        raise FileNotFoundError(
            f"{kp_path}: no keypoint cache for lifting.keypoints={cfg.keypoints!r}; "
            "add it to import_keypoints.sources"
        )
    selection = Selection(cfg.dataset, getattr(cfg, part), cfg.cameras)
    frames = select_frames(read_frames(frames_path), selection, f"{frames_path} (lifting.{part})")
    data, unmatched = lifting_from_tables(
        frames, read_keypoints(kp_path), read_lifting_cameras(cameras_file(params, cfg.dataset))
    )
    if len(data) == 0:
        raise ValueError(
            f"{kp_path}: none of the {frames.num_rows} lifting.{part} frames of {frames_path} "
            "has keypoints"
        )
    logger().info(
        "lifting.%s: %d rows (%s %s, 2D from %s); %d frames without keypoints left out",
        part, len(data), cfg.dataset, list(getattr(cfg, part)), cfg.keypoints, unmatched,
    )  # fmt: skip
    return data


load_lifting_task = stage_task(load_lifting)
