"""A tiny DVC project with plots, for tests (imported as `tiny_plots`): no pipeline run, no git;
``dvc init --no-scm``, two small CSVs and a ``plots:`` section in the project's two styles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# A top-level plot of two files (the project's lifter curves) and a bar chart (evaluate's)
DVC_YAML = """\
plots:
  - train_loss:
      title: Training loss, route and reference
      x: epoch
      y:
        history.csv: train_loss
        reference/history.csv: train_loss
  - per_action.csv:
      template: bar_horizontal
      x: mpjpe_p1_mm
      y: action
      title: MPJPE P1 per action (mm)
"""
PLOTS = 2


def tiny_plots_repo(root: Path, with_data: bool = True) -> Path:
    """A DVC project in `root` declaring `PLOTS` plots, their CSVs written when `with_data`."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
    (root / "dvc.yaml").write_text(DVC_YAML)
    if with_data:
        (root / "reference").mkdir()
        for path, loss in (("history.csv", 1.0), ("reference/history.csv", 0.8)):
            rows = [f"{epoch},{loss / (epoch + 1):.4f}" for epoch in range(5)]
            (root / path).write_text("epoch,train_loss\n" + "\n".join(rows) + "\n")
        (root / "per_action.csv").write_text("action,mpjpe_p1_mm\nWalking,41.5\nSitting,63.0\n")
    return root
