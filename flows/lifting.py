"""The `lifting` stage: ``python -m flows.lifting [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main

SPEC = StageSpec(
    name="lifting",
    summary="join the frames of lifting.dataset with the keypoint cache at lifting.keypoints, "
    "once, into the lifter's train and test rows.",
    reads="paths.extract (<dataset>.parquet, h36m_cameras.h5), lifting.keypoints (a cache)",
    writes="paths.lifting: train.parquet, test.parquet, summary.json",
    sections=("paths.extract", "paths.lifting", "lifting"),
)
preflight_when_main(SPEC, __name__)

from collections.abc import Sequence
from typing import Any

from prefect import flow

from flows._stage import load_stage_params, run_stage
from tasks.lifting import build_lifting_task


@flow(name="lifting")
def lifting_flow(params_path: str = "params.yaml", overrides: list[str] | None = None) -> Any:
    """Write the lifter's rows under ``paths.lifting``; returns rows per part."""
    params = load_stage_params(params_path, overrides)
    return build_lifting_task(params.lifting, params.paths.extract, params.paths.lifting)


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, lifting_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
