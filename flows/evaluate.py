"""`evaluate` stage: score the trained lifter on ``lifting.test``.
``python -m flows.evaluate [--params P] [--set k=v ...]``.

Writes ``${paths.evaluate}/metrics.json`` (for ``dvc metrics show``), ``per_action.csv``,
``per_joint.csv``, ``per_joint.png`` and ``examples.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import flow

from flows._stage import run_stage
from pose3d.config import load_params
from tasks.evaluate import evaluate_lifter_task
from tasks.lifter import CHECKPOINT
from tasks.lifting_data import load_lifting_task


@flow(name="evaluate")
def evaluate_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, Any]:
    params = load_params(params_path, overrides or [])
    test = load_lifting_task(params, "test")
    checkpoint = Path(params.paths.train_lifter) / CHECKPOINT
    return evaluate_lifter_task(
        checkpoint,
        test,
        params.paths.evaluate,
        params.train_lifter.flip_test,
        params.evaluate.examples,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("evaluate", evaluate_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
