"""`ablation` stage: the paper's Table 1 and Fig. 2 on ``lifting.train`` / ``lifting.test``.
``python -m flows.ablation [--params P] [--set k=v ...]``.

Writes ``${paths.ablation}/table1.md``, ``capacity.csv``, ``capacity.png``, ``results.json`` and
one resumable run folder per configuration under ``runs/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect import flow

from flows._stage import run_stage
from pose3d.config import load_params
from tasks.ablation import run_ablation_task
from tasks.lifting_data import load_lifting_task


@flow(name="ablation")
def ablation_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, Any]:
    params = load_params(params_path, overrides or [])
    train = load_lifting_task(params, "train")
    test = load_lifting_task(params, "test")
    return run_ablation_task(
        train, test, params.train_lifter, params.ablation, params.paths.ablation, params.seed
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("ablation", ablation_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
