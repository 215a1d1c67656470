"""The `ablation` stage: ``python -m flows.ablation [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main

SPEC = StageSpec(
    name="ablation",
    summary="the paper's Table 1 (max-norm x batch norm x residual, with and without CR) and "
    "Fig. 2 (blocks x width), each run with train_lifter's recipe for ablation.epochs epochs.",
    reads="paths.lifting: train.parquet, test.parquet, without_cr/ (Table 1's w.o. CR column)",
    writes="paths.ablation: table1.md, capacity.csv, capacity.png, results.json, metrics.json, "
    "runs/ (resumable)",
    sections=("seed", "device", "paths.lifting", "paths.ablation", "train_lifter (but epochs)",
              "ablation"),
)  # fmt: skip
preflight_when_main(SPEC, __name__)

from collections.abc import Sequence
from typing import Any

from prefect import flow

from flows._stage import load_stage_params, run_stage
from tasks.ablation import run_ablation_task
from tasks.engine import select_device
from tasks.lifter.rows import has_variant, load_part_task


@flow(name="ablation")
def ablation_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, Any]:
    params = load_stage_params(params_path, overrides)
    train = load_part_task(params.paths.lifting, "train")
    test = load_part_task(params.paths.lifting, "test")
    without_cr = None
    if has_variant(params.paths.lifting, "without_cr"):
        without_cr = (
            load_part_task(params.paths.lifting, "train", "without_cr"),
            load_part_task(params.paths.lifting, "test", "without_cr"),
        )
    results: dict[str, Any] = run_ablation_task(
        train, test, params.train_lifter, params.ablation, params.paths.ablation, params.seed,
        select_device(params.device), without_cr,
    )  # fmt: skip
    return results


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, ablation_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
