from __future__ import annotations

from pathlib import Path

import numpy as np

from pose3d.lifting.dataset import LiftingDataset
from tasks.evaluate import score, write_evaluation


def _data(actions: list[str]) -> LiftingDataset:
    n = len(actions)
    rng = np.random.default_rng(1)
    pose = rng.normal(0, 300, (n, 17, 3)).astype(np.float32)
    pose[:, 0] = 0
    return LiftingDataset(
        kp2d_px=np.zeros((n, 17, 2), np.float32),
        pose3d_cam_mm=pose,
        subject=np.array(["S8"] * n, dtype=object),
        action=np.array(actions, dtype=object),
        camera=np.array(["c"] * n, dtype=object),
        image_wh_px=np.full((n, 2), 1000, np.float32),
        principal_px=np.full((n, 2), 500, np.float32),
    )


def test_score_averages_per_action_class_then_over_actions(tmp_path: Path) -> None:
    data = _data(["Walking 1", "Walking", "Walking 1", "Eating 2"])
    pred = data.pose3d_cam_mm.copy()
    pred[:3, 1:] += np.array([30.0, 40.0, 0.0])  # 50 mm on the 16 non-root joints of Walking
    ev = score(pred, data)
    walking = 50.0 * 16 / 17
    assert ev.per_action["Walking"][2] == 3 and ev.per_action["Eating"][2] == 1
    np.testing.assert_allclose(ev.per_action["Walking"][0], walking, rtol=1e-6)
    np.testing.assert_allclose(ev.per_action["Eating"][0], 0.0, atol=1e-6)
    np.testing.assert_allclose(ev.metrics["mpjpe_p1_mm"], walking / 2, rtol=1e-6)
    np.testing.assert_allclose(ev.metrics["mpjpe_p1_all_frames_mm"], walking * 3 / 4, rtol=1e-6)
    assert ev.metrics["mpjpe_p2_mm"] < ev.metrics["mpjpe_p1_mm"]  # a shift: Procrustes removes it
    np.testing.assert_allclose(ev.per_joint_mm[1:], 50.0 * 3 / 4, rtol=1e-6)
    write_evaluation(ev, tmp_path)
    lines = (tmp_path / "per_action.csv").read_text().splitlines()
    assert lines[0] == "action,mpjpe_p1_mm,mpjpe_p2_mm,rows"
    assert lines[2].startswith("Walking,47.06,")
    assert (tmp_path / "per_joint.png").stat().st_size > 1000
