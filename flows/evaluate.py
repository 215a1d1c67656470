"""The `evaluate` stage: ``python -m flows.evaluate [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main

SPEC = StageSpec(
    name="evaluate",
    summary="score the trained lifter on the lifting test rows (MPJPE P1, P2, challenge metric), "
    "beside the reference lifter on ground-truth 2D and the gt_box lifter (the CPN on the label "
    "boxes) where there are such, with the error budget: the lifter's, the CPN's and the "
    "detector's part of the route's error.",
    reads="paths.lifting: test.parquet, reference/test.parquet, gt_box/test.parquet; "
    "paths.train_lifter: checkpoint.pt, reference/checkpoint.pt, gt_box/checkpoint.pt",
    writes="paths.evaluate: metrics.json (dvc metrics), scores.json (every number, the budget "
    "too), per_action.csv, per_joint.csv, per_joint.png, examples.png, fig3.png (test rows with "
    "images), report.html (one self-contained page: error budget, metrics, bars, the best and "
    "worst rows in 3D)",
    sections=("device", "paths.lifting", "paths.train_lifter", "paths.evaluate", "evaluate"),
)
preflight_when_main(SPEC, __name__)

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import flow

from flows._stage import load_stage_params, run_stage
from pose3d.config import Params
from tasks.engine import CHECKPOINT, select_device
from tasks.evaluate import evaluate_lifter_task
from tasks.lifter.rows import BESIDE_ROUTE, VARIANTS, has_variant, load_part_task


@flow(name="evaluate")
def evaluate_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, Any]:
    params = load_stage_params(params_path, overrides)
    test = load_part_task(params.paths.lifting, "test")
    trained = Path(params.paths.train_lifter)
    beside = {
        variant: (trained / VARIANTS[variant][1] / CHECKPOINT,
                  load_part_task(params.paths.lifting, "test", variant))
        for variant in BESIDE_ROUTE
        if has_variant(params.paths.lifting, variant)
    }  # fmt: skip
    metrics: dict[str, Any] = evaluate_lifter_task(
        trained / CHECKPOINT, test, params.paths.evaluate, params.evaluate.examples,
        select_device(params.device), beside, made_from(params, params_path, overrides),
    )  # fmt: skip
    return metrics


def made_from(params: Params, params_path: str, overrides: list[str] | None) -> dict[str, str]:
    """What the report says made it: the data (the embedded synthetic world, or real data at its
    root), the params file with its overrides, and the git commit of the code."""
    paths = params.paths
    root = paths.challenge_root if params.lifting.dataset == "challenge" else paths.h36m_root
    inside = Path(paths.generate).resolve() in (Path(root).resolve(), *Path(root).resolve().parents)
    data = (f"synthetic: the embedded world of `generate` (seed {params.seed}), {root}"
            if inside else f"real: {params.lifting.dataset} data at {root}")  # fmt: skip
    given = params_path + "".join(f" --set {o}" for o in overrides or [])
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = "unknown (not a git checkout)"
    return {"data": data, "params": given, "commit": commit}


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, evaluate_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
