"""The `extract` stage as a Prefect flow: ``python -m flows.extract [--params P] [--set k=v]``.

Reads ``paths.h36m_root``, ``paths.challenge_root``, ``paths.extract`` and the ``extract``
section of the params file; writes ``h36m.parquet`` (+ ``h36m_images/``), ``challenge.parquet``
and a ``<dataset>_summary.json`` for each under ``paths.extract``. Example on the real data:

    python -m flows.extract --set paths.h36m_root=../shared/data/h36m \\
        --set extract.h36m_subjects=[S1,S5,S6,S7,S8] --set extract.frame_stride=1 \\
        --set paths.challenge_root=../shared/data/challenge_sample \\
        --set extract.challenge_splits=[Val]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefect import flow

from flows._stage import run_stage
from pose3d.config import load_params
from tasks.extract import ExtractSummary, extract_challenge_task, extract_h36m_task


@flow(name="extract")
def extract_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, ExtractSummary]:
    """Read the Human3.6M and challenge trees into frames tables under ``paths.extract``."""
    params = load_params(params_path, overrides or [])
    out_dir = Path(params.paths.extract)
    h36m: ExtractSummary = extract_h36m_task(params.paths.h36m_root, params.extract, out_dir)
    chal: ExtractSummary = extract_challenge_task(
        params.paths.challenge_root, params.extract, out_dir
    )
    return {"h36m": h36m, "challenge": chal}


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("extract", extract_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
