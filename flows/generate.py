"""The `generate` stage: ``python -m flows.generate [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main

SPEC = StageSpec(
    name="generate",
    summary="write the embedded synthetic world in the real Human3.6M and challenge layouts.",
    reads="params only (the synthetic world is generated from `seed`)",
    writes="paths.generate/h36m (cameras.h5, S*/MyPoses, S*/Videos), paths.generate/challenge",
    sections=("seed", "paths.generate", "generate"),
)
preflight_when_main(SPEC, __name__)

from collections.abc import Sequence

from prefect import flow

from flows._stage import load_stage_params, run_stage
from tasks.generate import GenerateSummary, generate_task


@flow(name="generate")
def generate_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> GenerateSummary:
    """Write the synthetic Human3.6M and challenge trees under ``paths.generate``."""
    params = load_stage_params(params_path, overrides)
    summary: GenerateSummary = generate_task(params.generate, params.seed, params.paths.generate)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, generate_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
