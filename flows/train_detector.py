"""The `train_detector` stage: ``python -m flows.train_detector [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main, unseen_by_challenge

SPEC = StageSpec(
    name="train_detector",
    summary="train the SSD person detector on the Human3.6M-layout frames and score it "
    "(resumes its checkpoint).",
    reads="paths.extract: h36m.parquet (+ its images), challenge.parquet (+ its images: the "
    "Val/Test subject check and the eval_splits scores)",
    writes="paths.train_detector: checkpoint.pt (resumable), history.csv (dvc plots), "
    "metrics.json, detections.png",
    check=unseen_by_challenge("train_detector"),
    sections=("seed", "device", "paths.extract", "paths.train_detector", "train_detector"),
)
preflight_when_main(SPEC, __name__)

from collections.abc import Sequence

from prefect import flow

from flows._stage import load_stage_params, run_stage
from tasks.engine import select_device
from tasks.train_detector import train_detector_task


@flow(name="train_detector")
def train_detector_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, float]:
    params = load_stage_params(params_path, overrides)
    metrics: dict[str, float] = train_detector_task(
        params.train_detector, params.paths.extract, params.paths.train_detector, params.seed,
        select_device(params.device),
    )  # fmt: skip
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, train_detector_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
