"""`pose3d metrics`: the headline metrics one line per stage and metric, within 100 columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pose3d.metrics_listing import WIDTH, metrics_lines, stage_of

STAGES = ("train_detector", "train_cpn", "infer_2d", "evaluate", "ablation")


def test_one_line_per_metric_the_stage_named_once() -> None:
    lines = metrics_lines({
        "data/train_cpn/metrics.json": {"heldout_px_error": 10.18624, "heldout_pck10_box": 0.5},
        "data/evaluate/metrics.json": {"rows": 600, "nested": {"p1_mm": 36.25928}},
    })  # fmt: skip
    assert lines[0].split() == ["stage", "metric", "value"]
    assert [line.split() for line in lines[1:]] == [
        ["train_cpn", "heldout_px_error", "10.1862"],
        ["heldout_pck10_box", "0.5"],
        ["evaluate", "rows", "600"],
        ["nested.p1_mm", "36.2593"],
    ]
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_too_wide_a_listing_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="more than 100"):
        metrics_lines({"data/x/metrics.json": {"k" * 120: 1.0}})
    assert metrics_lines({}) == ["no metrics yet: run the pipeline (make run)"]
    assert stage_of("data/train_cpn/metrics.json") == "train_cpn"


def test_the_default_params_metrics_fit_100_columns(repo_root: Path) -> None:
    """The metrics.json files of the default params' last run (tracked in git, not in DVC's
    cache): DVC's own table of them is several hundred columns wide; this listing is not."""
    files = {
        f"data/{stage}/metrics.json": json.loads((repo_root / "data" / stage / "metrics.json").read_text())
        for stage in STAGES
    }  # fmt: skip
    keys = sum(len(m) for m in files.values())
    dvc_width = sum(len(k) + 4 for m in files.values() for k in m) + 34  # one column per key
    lines = metrics_lines(files)
    assert len(lines) == 1 + keys and dvc_width > WIDTH
    assert max(len(line) for line in lines) <= WIDTH
