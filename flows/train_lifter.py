"""`train_lifter` stage: train the residual-MLP lifter on ``lifting.train``, validating each
epoch on ``lifting.test``. ``python -m flows.train_lifter [--params P] [--set k=v ...]``.

Writes ``${paths.train_lifter}/checkpoint.pt`` (resumed by a rerun with the same configuration)
``history.csv`` (the curves for ``dvc plots``) and ``curves.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefect import flow

from flows._stage import run_stage
from pose3d.config import load_params
from pose3d.plots import curves_figure, save_figure
from tasks._prefect import logger
from tasks.lifter import train_lifter_task
from tasks.lifting_data import load_lifting_task


@flow(name="train_lifter")
def train_lifter_flow(params_path: str = "params.yaml", overrides: list[str] | None = None) -> str:
    params = load_params(params_path, overrides or [])
    train = load_lifting_task(params, "train")
    test = load_lifting_task(params, "test")
    result = train_lifter_task(
        train, test, params.train_lifter, params.paths.train_lifter, params.seed
    )
    if result.history:
        save_figure(curves_figure(result.history), Path(params.paths.train_lifter) / "curves.png")
    last = result.history[-1] if result.history else {}
    logger().info("train_lifter: %s (last epoch: %s)", result.checkpoint, last)
    return str(result.checkpoint)


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("train_lifter", train_lifter_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
