"""The `train_lifter` stage: ``python -m flows.train_lifter [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main

SPEC = StageSpec(
    name="train_lifter",
    summary="train the residual-MLP lifter on the lifting rows (resumes its checkpoint).",
    reads="paths.lifting: train.parquet, test.parquet (the validation curve)",
    writes="paths.train_lifter: checkpoint.pt (resumable), history.csv (dvc plots), curves.png",
    sections=("seed", "device", "paths.lifting", "paths.train_lifter", "train_lifter"),
)
preflight_when_main(SPEC, __name__)

from collections.abc import Sequence

from prefect import flow

from flows._stage import load_stage_params, run_stage
from tasks.engine import select_device
from tasks.lifting_rows import load_part_task
from tasks.train_lifter import TrainResult, train_lifter_task


@flow(name="train_lifter")
def train_lifter_flow(params_path: str = "params.yaml", overrides: list[str] | None = None) -> str:
    params = load_stage_params(params_path, overrides)
    train = load_part_task(params.paths.lifting, "train")
    test = load_part_task(params.paths.lifting, "test")
    result: TrainResult = train_lifter_task(
        train, test, params.train_lifter, params.paths.train_lifter, params.seed,
        select_device(params.device),
    )  # fmt: skip
    return str(result.checkpoint)


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, train_lifter_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
