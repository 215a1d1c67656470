"""A tiny evaluation and its report page, for tests (imported as `tiny_report`): needs no data/
and no trained lifter."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pose3d.lifting.dataset import LiftingDataset
from pose3d.report import report_html
from tasks.evaluate import extremes, score

EXAMPLES = 2  # best and worst frames each


def tiny_rows(tmp_path: Path) -> tuple[LiftingDataset, np.ndarray]:
    """Six test rows of two actions and a prediction whose error grows with the row; rows 0-3
    have an image (row 3's cannot be read), rows 4 and 5 none. Returns (rows, pred_mm)."""
    n = 6
    rng = np.random.default_rng(3)
    gt = rng.normal(0, 300, (n, 17, 3)).astype(np.float32)
    gt[:, 0] = 0
    pred = gt + np.arange(1, n + 1, dtype=np.float32)[:, None, None] * 10.0
    pred[:, 0] = 0
    image = np.full((90, 120, 3), 60, np.uint8)
    assert cv2.imwrite(str(tmp_path / "frame.png"), image)
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    paths = [str(tmp_path / "frame.png")] * 3 + [str(tmp_path / "bad.jpg"), "", ""]
    kp2d = rng.uniform(20, 80, (n, 17, 2)).astype(np.float32)
    boxes = np.tile(np.array([15, 10, 90, 85], np.float32), (n, 1))
    boxes[1] = np.nan
    data = LiftingDataset(
        kp2d_px=kp2d, pose3d_cam_mm=gt,
        subject=np.array(["S9"] * n, dtype=object),
        action=np.array(["Walking", "Bending"] * 3, dtype=object),
        camera=np.array([f"val{i:05d}" for i in range(n)], dtype=object),
        image_wh_px=np.tile([120.0, 90.0], (n, 1)), principal_px=np.tile([60.0, 45.0], (n, 1)),
        image_path=np.array(paths, dtype=object), box_xyxy_px=boxes,
    )  # fmt: skip
    return data, pred


def tiny_report(tmp_path: Path) -> tuple[Path, int]:
    """The report of `tiny_rows` written to ``tmp_path/report.html``; (path, figure count)."""
    data, pred = tiny_rows(tmp_path)
    ev = score(pred, data)
    sections = extremes(data, pred, EXAMPLES)
    path = tmp_path / "report.html"
    path.write_text(report_html(ev.metrics, ev.per_action, ev.per_joint_mm, sections))
    return path, 2 + sum(len(examples) for _, examples in sections)
