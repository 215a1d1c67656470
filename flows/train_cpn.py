"""The `train_cpn` stage: ``python -m flows.train_cpn [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main, unseen_by_challenge

SPEC = StageSpec(
    name="train_cpn",
    summary=(
        "train the CPN 2D keypoint network through crop-and-resize on the Human3.6M-layout "
        "frames of train_cpn.subjects, score it on train_cpn.heldout_subjects (resumes its "
        "checkpoint)."
    ),
    reads=(
        "paths.extract: h36m.parquet and its images; challenge.parquet (its Val/Test subjects "
        "may not be trained on)"
    ),
    writes=(
        "paths.train_cpn: checkpoint.pt (resumable), history.csv (dvc plots), metrics.json, "
        "per_joint.csv, keypoints.png"
    ),
    check=unseen_by_challenge("train_cpn"),
    sections=("seed", "device", "paths.extract", "paths.train_cpn", "train_cpn", "cr"),
)
preflight_when_main(SPEC, __name__)

from collections.abc import Sequence

from prefect import flow

from flows._stage import load_stage_params, run_stage
from tasks.engine import select_device
from tasks.train_cpn import TrainResult, train_cpn_task


@flow(name="train_cpn")
def train_cpn_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, float]:
    params = load_stage_params(params_path, overrides)
    result: TrainResult = train_cpn_task(
        params.train_cpn, params.cr.margin, params.paths.extract, params.paths.train_cpn,
        params.seed, select_device(params.device),
    )  # fmt: skip
    return result.metrics


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, train_cpn_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
