"""The `train_lifter` stage: ``python -m flows.train_lifter [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main

SPEC = StageSpec(
    name="train_lifter",
    summary="train the residual-MLP lifter on the lifting rows (resumes its checkpoint); the "
    "same recipe on the reference rows (ground-truth 2D) where `lifting` wrote them.",
    reads="paths.lifting: train.parquet, test.parquet (the validation curve), reference/",
    writes="paths.train_lifter: checkpoint.pt (resumable), history.csv (dvc plots), curves.png; "
    "reference/ the same for the reference rows",
    sections=("seed", "device", "paths.lifting", "paths.train_lifter", "train_lifter"),
)
preflight_when_main(SPEC, __name__)

from collections.abc import Sequence
from pathlib import Path

from prefect import flow

from flows._stage import load_stage_params, run_stage
from tasks.engine import FitResult, select_device
from tasks.lifter.rows import REFERENCE_DIR, has_variant, load_part_task
from tasks.train_lifter import train_lifter_task


@flow(name="train_lifter")
def train_lifter_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> list[str]:
    """Train the route's lifter, then the reference's where there are reference rows; returns
    the checkpoints."""
    params = load_stage_params(params_path, overrides)
    device = select_device(params.device)
    out = Path(params.paths.train_lifter)
    runs = [("route", out)]
    if has_variant(params.paths.lifting, "reference"):
        runs.append(("reference", out / REFERENCE_DIR))
    checkpoints = []
    for variant, out_dir in runs:
        train = load_part_task(params.paths.lifting, "train", variant)
        test = load_part_task(params.paths.lifting, "test", variant)
        result: FitResult = train_lifter_task(
            train, test, params.train_lifter, out_dir, params.seed, device
        )
        checkpoints.append(str(result.checkpoint))
    return checkpoints


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, train_lifter_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
