"""The `lifting` stage: the lifter's rows, joined once for train_lifter, evaluate and ablation.

Joins the frames table of ``lifting.dataset`` (``extract``) with the keypoint cache at
``lifting.keypoints`` (any stage's cache: ``import_keypoints``' ground truth or Stacked
Hourglass, ``infer_2d``'s detections) and, for Human3.6M, the cameras ``extract`` copied
(``h36m_cameras.h5``); the same for ``lifting.reference_keypoints`` (scored beside the route
with the same recipe), ``lifting.without_cr_keypoints`` (Table 1's "w.o. CR") and
``lifting.gt_box_keypoints`` (the CPN on the label boxes, scored beside the route), where set. A
variant whose cache holds no rows at all (``infer_2d``'s ``gt_box`` on the real challenge, which
gives no label boxes) is left out with a warning; the stages after it go without it. The
challenge gives no cameras, so its rows carry no view geometry and nothing under the challenge's
``_labels/`` reaches the lifter through this stage.
Writes ``train.parquet``, ``test.parquet`` (`pose3d.lifting.table`), the same under
``reference/``, ``without_cr/`` and ``gt_box/``, and ``summary.json`` to ``paths.lifting``, built
aside and swapped in whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.config import LiftingConfig, to_dict
from pose3d.formats.h36m import read_cameras
from pose3d.frames import read_frames
from pose3d.io import atomic_dir, write_json_atomic
from pose3d.keypoints import read_keypoints
from pose3d.lifting.dataset import LiftingDataset
from pose3d.lifting.join import Selection, lifting_from_tables, select_frames
from pose3d.lifting.table import write_lifting
from tasks._prefect import logger, stage_task
from tasks.lifter.rows import PARTS, VARIANTS, part_path
from tasks.provenance import producer

H36M_CAMERAS = "h36m_cameras.h5"  # written by `extract` beside h36m.parquet


@dataclass(frozen=True)
class LiftingInputs:
    """Where the `lifting` stage reads: the frames table, the keypoint cache, the cameras."""

    frames: Path
    keypoints: Path
    cameras: Path | None  # None: the dataset gives no cameras (the challenge)


def lifting_inputs(
    cfg: LiftingConfig, extract_dir: str | Path, keypoints: str | None = None
) -> LiftingInputs:
    """The inputs of one variant: `keypoints` (default ``lifting.keypoints``) as its 2D."""
    extract_dir = Path(extract_dir)
    cameras = extract_dir / H36M_CAMERAS if cfg.dataset == "h36m" else None
    cache = Path(keypoints if keypoints is not None else cfg.keypoints)
    return LiftingInputs(extract_dir / f"{cfg.dataset}.parquet", cache, cameras)


def join_part(cfg: LiftingConfig, inputs: LiftingInputs, part: str) -> LiftingDataset:
    """Rows of the `train` or `test` part of `cfg`: 3D from the frames, 2D from the cache.

    Raises FileNotFoundError naming a missing input, ValueError naming the file when a part
    selects no rows with both 3D and 2D."""
    if not inputs.keypoints.is_file():
        raise FileNotFoundError(
            f"{inputs.keypoints}: no keypoint cache there (make it with `infer_2d` or "
            "`import_keypoints`, or point the `lifting` section at another stage's cache)"
        )
    cameras = {}
    if inputs.cameras is not None:
        if not inputs.cameras.is_file():
            raise FileNotFoundError(f"{inputs.cameras}: the cameras `extract` copies are missing")
        cameras = read_cameras(inputs.cameras)
    selection = Selection(cfg.dataset, getattr(cfg, part), cfg.cameras)
    where = f"{inputs.frames} (lifting.{part})"
    frames = select_frames(read_frames(inputs.frames), selection, where)
    data, unmatched = lifting_from_tables(frames, read_keypoints(inputs.keypoints), cameras)
    if len(data) == 0:
        raise ValueError(
            f"{inputs.keypoints}: none of the {frames.num_rows} lifting.{part} frames of "
            f"{inputs.frames} has keypoints"
        )
    logger().info(
        "lifting.%s: %d rows (%s %s, 2D from %s); %d frames without keypoints left out",
        part, len(data), cfg.dataset, list(getattr(cfg, part)), inputs.keypoints, unmatched,
    )  # fmt: skip
    return data


def holds_no_rows(cache: Path) -> bool:
    """Whether the keypoint cache at `cache` is there and empty (a missing one is named by
    `join_part`)."""
    return cache.is_file() and read_keypoints(cache).num_rows == 0


def build_lifting(cfg: LiftingConfig, extract_dir: str | Path, out_dir: str | Path) -> dict:
    """The stage: both parts of every variant whose cache is set, joined and written; returns
    the summary (per variant: its sources and rows per part)."""
    made_by = producer("lifting", __name__, {"lifting": to_dict(cfg)})
    summary: dict[str, Any] = {}
    with atomic_dir(out_dir) as tmp:
        for variant, (key, _) in VARIANTS.items():
            if not getattr(cfg, key):
                continue
            inputs = lifting_inputs(cfg, extract_dir, getattr(cfg, key))
            if variant != "route" and holds_no_rows(inputs.keypoints):
                logger().warning(
                    "lifting.%s: %s holds no keypoints (gt_box: the table gave no label boxes, "
                    "as on the real challenge): no %s rows, the later stages go without them",
                    key, inputs.keypoints, variant,
                )  # fmt: skip
                continue
            source = {
                "frames": str(inputs.frames),
                "keypoints": str(inputs.keypoints),
                "cameras": None if inputs.cameras is None else str(inputs.cameras),
            }
            summary[variant] = {"source": source, "parts": {}}
            for part in PARTS:
                data = join_part(cfg, inputs, part)
                path = part_path(tmp, part, variant)
                path.parent.mkdir(parents=True, exist_ok=True)
                meta = {**source, "part": part, "variant": variant}
                write_lifting(data, path, meta, made_by)
                with_view = (
                    0 if data.geometry is None else int(np.isfinite(data.geometry).all(1).sum())
                )
                summary[variant]["parts"][part] = {"rows": len(data), "rows_with_camera": with_view}
        write_json_atomic(tmp / "summary.json", summary)
    return summary


build_lifting_task = stage_task(build_lifting)
