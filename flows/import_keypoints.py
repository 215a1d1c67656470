"""The `import_keypoints` stage: ``python -m flows.import_keypoints [--params P] [--set k=v]``.

Fills ``<paths.import_keypoints>/<source>.parquet`` (the 2D keypoint cache, `pose3d.keypoints`)
for every source in ``import_keypoints.sources``, plus ``summary.json``: rows per source and,
when ``gt`` is among the sources, every other source's pixel distance to it on the frames both
hold. The folder is replaced as a whole, so it never keeps a source no longer listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import flow

from flows._stage import run_stage
from pose3d.config import load_params
from pose3d.io import atomic_dir, write_json_atomic
from pose3d.keypoints import read_keypoints
from tasks.import_keypoints import check_sources, compare_sources_task, import_source_task


@flow(name="import_keypoints")
def import_keypoints_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, Any]:
    """Import every configured 2D source into the keypoint cache; returns the summary."""
    params = load_params(params_path, overrides or [])
    check_sources(params)
    sources = params.import_keypoints.sources
    out_dir = Path(params.paths.import_keypoints)
    summary: dict[str, Any] = {"sources": {}, "vs_gt": {}}
    with atomic_dir(out_dir) as tmp:
        for source in sources:
            result = import_source_task(source, params, tmp)
            summary["sources"][source] = {
                **asdict(result),
                "path": str(out_dir / f"{source}.parquet"),
            }
        if "gt" in sources:
            gt = read_keypoints(tmp / "gt.parquet")
            for source in sources:
                if source != "gt":
                    other = read_keypoints(tmp / f"{source}.parquet")
                    summary["vs_gt"][source] = compare_sources_task(gt, other)
        write_json_atomic(tmp / "summary.json", summary)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("import_keypoints", import_keypoints_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
