"""The `train_lifter` stage: ``python -m flows.train_lifter [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main

SPEC = StageSpec(
    name="train_lifter",
    summary="train the residual-MLP lifter on the lifting rows (resumes its checkpoint); the "
    "same recipe on the reference rows (ground-truth 2D) and the gt_box rows (the CPN on the "
    "label boxes) where `lifting` wrote them.",
    reads="paths.lifting: train.parquet, test.parquet (the validation curve), reference/, gt_box/",
    writes="paths.train_lifter: checkpoint.pt (resumable), history.csv (dvc plots), curves.png; "
    "reference/ and gt_box/ the same for their rows; built in data/.work/train_lifter, moved in "
    "when all are done",
    sections=("seed", "device", "paths.lifting", "paths.train_lifter", "train_lifter"),
)
preflight_when_main(SPEC, __name__)

import shutil
from collections.abc import Sequence
from pathlib import Path

from prefect import flow

from flows._stage import load_stage_params, run_stage
from pose3d.io import CHECKPOINT, move_into, work_root
from tasks.engine import carry_over, select_device
from tasks.lifter.rows import BESIDE_ROUTE, VARIANTS, has_variant, load_part_task
from tasks.train_lifter import train_lifter_task


@flow(name="train_lifter")
def train_lifter_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> list[str]:
    """Train the route's lifter, then with the same recipe the reference's (ground-truth 2D)
    and the gt_box one's (the CPN on the label boxes) where there are such rows; returns the
    checkpoints. All train in a work folder (`pose3d.io.work_root`), whose files are moved into
    the output folder only when all are done: a run stopped halfway leaves the previous outputs
    whole, and its next run resumes the work folder's checkpoints."""
    params = load_stage_params(params_path, overrides)
    device = select_device(params.device)
    out = Path(params.paths.train_lifter)
    work = work_root(out)
    runs = [("route", Path())]
    for variant in BESIDE_ROUTE:
        sub = Path(VARIANTS[variant][1])
        if has_variant(params.paths.lifting, variant):
            runs.append((variant, sub))
        else:  # an earlier run's lifter of these rows is not this run's
            shutil.rmtree(work / sub, ignore_errors=True)
    for variant, sub in runs:
        carry_over(out / sub / CHECKPOINT, work / sub / CHECKPOINT)
        train = load_part_task(params.paths.lifting, "train", variant)
        test = load_part_task(params.paths.lifting, "test", variant)
        train_lifter_task(train, test, params.train_lifter, work / sub, params.seed, device)
    move_into(work, out)
    return [str(out / sub / CHECKPOINT) for _, sub in runs]


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, train_lifter_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
