"""The `lifting` stage's rows as every lifter stage reads them (train_lifter, evaluate, ablation).

``paths.lifting`` holds one pair of ``train.parquet`` / ``test.parquet`` per keypoint cache:
the route's (``lifting.keypoints``) at the top, the reference's (``lifting.reference_keypoints``,
ground-truth 2D) under ``reference/``, Table 1's "w.o. CR" cache
(``lifting.without_cr_keypoints``) under ``without_cr/`` and the CPN on the label boxes
(``lifting.gt_box_keypoints``, the error budget's middle step) under ``gt_box/``.
"""

from __future__ import annotations

from pathlib import Path

from pose3d.lifting.dataset import LiftingDataset
from pose3d.lifting.table import read_lifting
from tasks._prefect import stage_task

PARTS = ("train", "test")
# variant -> (its key in the `lifting` section, its folder under paths.lifting)
VARIANTS = {
    "route": ("keypoints", ""),
    "reference": ("reference_keypoints", "reference"),
    "without_cr": ("without_cr_keypoints", "without_cr"),
    "gt_box": ("gt_box_keypoints", "gt_box"),
}
# the variants trained (train_lifter) and scored (evaluate) beside the route with its recipe,
# where `lifting` wrote their rows: ground-truth 2D, and the CPN on the label boxes
BESIDE_ROUTE = ("reference", "gt_box")


def part_path(lifting_dir: str | Path, part: str, variant: str = "route") -> Path:
    if part not in PARTS:
        raise ValueError(f"part {part!r}: expected one of {PARTS}")
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r}: expected one of {list(VARIANTS)}")
    return Path(lifting_dir) / VARIANTS[variant][1] / f"{part}.parquet"


def has_variant(lifting_dir: str | Path, variant: str) -> bool:
    """Whether the `lifting` stage wrote rows for `variant` (its cache path was not "")."""
    return all(part_path(lifting_dir, part, variant).is_file() for part in PARTS)


def load_part(lifting_dir: str | Path, part: str, variant: str = "route") -> LiftingDataset:
    """The `train` or `test` rows of one variant under ``paths.lifting``. Raises
    FileNotFoundError naming the file (and the stage to run) when it is missing, ValueError
    naming it when it is not valid."""
    path = part_path(lifting_dir, part, variant)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: run the `lifting` stage first (dvc repro lifting)")
    return read_lifting(path)


load_part_task = stage_task(load_part)
