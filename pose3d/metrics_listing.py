"""The pipeline's headline metrics as a listing that fits 100 columns: one line per stage and
metric (``pose3d metrics``), where ``dvc metrics show`` gives one sparse column per key of every
stage (several hundred characters wide on the default params)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

WIDTH = 100


def _value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)):
        return f"{value:.0f}" if abs(value) < 1e15 else f"{value:g}"
    return f"{value:.4g}" if abs(value) < 1e-3 else f"{value:.4f}".rstrip("0").rstrip(".")


def stage_of(path: str) -> str:
    """``data/train_cpn/metrics.json`` -> ``train_cpn`` (the folder holding the file)."""
    parent = PurePosixPath(path).parent
    return parent.name or path


def metrics_lines(files: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """``{path: {key: value}}`` (as ``dvc metrics show --json`` gives them per file) -> lines of
    ``stage  metric  value``, the stage named once per group, in the order given. Nested keys
    are joined with dots. Raises ValueError when a line would not fit `WIDTH` columns."""
    rows: list[tuple[str, str, str]] = []
    last = ""
    for stage, key, value in metric_rows(files):
        rows.append(("" if stage == last else stage, key, value))
        last = stage
    if not rows:
        return ["no metrics yet: run the pipeline (make run)"]
    w_stage = max(len("stage"), *(len(r[0]) for r in rows))
    w_key = max(len("metric"), *(len(r[1]) for r in rows))
    w_value = max(len("value"), *(len(r[2]) for r in rows))
    lines = [f"{'stage':<{w_stage}}  {'metric':<{w_key}}  {'value':>{w_value}}"]
    lines += [f"{s:<{w_stage}}  {k:<{w_key}}  {v:>{w_value}}" for s, k, v in rows]
    too_wide = [line for line in lines if len(line) > WIDTH]
    if too_wide:
        raise ValueError(f"{len(too_wide[0])} columns, more than {WIDTH}: {too_wide[0]!r}")
    return lines


def metric_rows(files: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """``{path: {key: value}}`` -> ``(stage, metric, value)``, one row per metric (nested keys
    joined with dots, values as `metrics_lines` prints them), in the order given."""
    return [
        (stage_of(path), key, _value(value))
        for path, metrics in files.items()
        for key, value in _flat(metrics)
    ]


def _flat(metrics: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            out += _flat(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out
