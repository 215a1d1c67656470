"""The `import_keypoints` stage: ``python -m flows.import_keypoints [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main

SPEC = StageSpec(
    name="import_keypoints",
    summary="fill the 2D keypoint cache from outside sources (ground truth, Stacked Hourglass, "
    "VideoPose3D npz).",
    reads="paths.extract (frames tables, for gt), the Stacked Hourglass tree "
    "(import_keypoints.stacked_hourglass_root or paths.h36m_root), import_keypoints.npz_path",
    writes="paths.import_keypoints: <source>.parquet per source, summary.json",
    sections=("paths.extract", "paths.h36m_root", "paths.import_keypoints", "import_keypoints"),
)
preflight_when_main(SPEC, __name__)

from collections.abc import Sequence
from typing import Any

from prefect import flow

from flows._stage import load_stage_params, run_stage
from tasks.import_keypoints import KeypointRoots, import_keypoints_task


@flow(name="import_keypoints")
def import_keypoints_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, Any]:
    """Import every configured 2D source into the keypoint cache; returns the summary."""
    params = load_stage_params(params_path, overrides)
    roots = KeypointRoots(extract=params.paths.extract, h36m=params.paths.h36m_root)
    summary: dict[str, Any] = import_keypoints_task(
        params.import_keypoints, roots, params.paths.import_keypoints
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, import_keypoints_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
