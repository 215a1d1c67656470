"""The `extract` stage: ``python -m flows.extract [--params P] [--set k=v]``. Example on the
real data beside the project (the real-data params file does this for a whole run):

    python -m flows.extract --params params/h36m.yaml
"""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main

SPEC = StageSpec(
    name="extract",
    summary="read the Human3.6M and challenge trees into frames tables.",
    reads="paths.h36m_root (cameras.h5, S*/MyPoses or MyPoseFeatures, S*/Videos), "
    "paths.challenge_root (Train|Val/IMG+POSE, Test/IMG)",
    writes="paths.extract: h36m.parquet, h36m_images/, h36m_cameras.h5, challenge.parquet, "
    "<dataset>_summary.json",
    sections=(
        "paths.h36m_root",
        "paths.challenge_root",
        "paths.extract",
        "extract",
        "infer_2d.max_pixels",
    ),  # fmt: skip
)
preflight_when_main(SPEC, __name__)

from collections.abc import Sequence

from prefect import flow

from flows._stage import load_stage_params, run_stage
from tasks.extract import ExtractSummary, extract_task


@flow(name="extract")
def extract_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, ExtractSummary]:
    """Read the Human3.6M and challenge trees into frames tables under ``paths.extract``."""
    params = load_stage_params(params_path, overrides)
    roots = (params.paths.h36m_root, params.paths.challenge_root)
    summaries: dict[str, ExtractSummary] = extract_task(
        params.extract, roots, params.paths.extract, params.infer_2d.max_pixels
    )
    return summaries


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, extract_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
