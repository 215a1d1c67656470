"""The `lifting` stage's rows as every lifter stage reads them (train_lifter, evaluate, ablation)."""

from __future__ import annotations

from pathlib import Path

from pose3d.lifting.dataset import LiftingDataset
from pose3d.lifting.table import read_lifting
from tasks._prefect import stage_task

PARTS = ("train", "test")


def load_part(lifting_dir: str | Path, part: str) -> LiftingDataset:
    """The `train` or `test` rows of ``paths.lifting``. Raises FileNotFoundError naming the file
    (and the stage to run) when it is missing, ValueError naming it when it is not valid."""
    if part not in PARTS:
        raise ValueError(f"part {part!r}: expected one of {PARTS}")
    path = Path(lifting_dir) / f"{part}.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: run the `lifting` stage first (dvc repro lifting)")
    return read_lifting(path)


load_part_task = stage_task(load_part)
