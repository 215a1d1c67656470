"""The `generate` stage as a Prefect flow: ``python -m flows.generate [--params P] [--set k=v]``.

Reads ``seed``, ``paths.generate`` and the ``generate`` section of the params file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefect import flow

from flows._stage import run_stage
from pose3d.config import load_params
from tasks.generate import GenerateSummary, generate_task


@flow(name="generate")
def generate_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> GenerateSummary:
    """Write the synthetic Human3.6M and challenge trees under ``paths.generate``."""
    params = load_params(params_path, overrides or [])
    summary: GenerateSummary = generate_task(
        params.generate, params.seed, Path(params.paths.generate)
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("generate", generate_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
