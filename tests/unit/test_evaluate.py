from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from pose3d.lifting.dataset import LiftingDataset
from pose3d.skeleton import flip_lr
from tasks.evaluate import error_budget, fig3, gap_2d, score, write_evaluation


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


def test_gap_2d_compares_rows_with_the_same_identity_only() -> None:
    route = _data(["Walking", "Walking", "Eating"])
    route = dataclasses.replace(route, frame=np.array([1, 2, 3]))
    # the reference: ground truth for frames 2, 3 and 9, in another order
    gt = _data(["Walking", "Eating", "Walking"])
    ys = np.linspace(0, 100, 17)  # a person 100 px tall
    kp = np.zeros((3, 17, 2), np.float32)
    kp[:, :, 1] = ys
    gt = dataclasses.replace(gt, kp2d_px=kp, frame=np.array([9, 3, 2]), action=np.array(
        ["Walking", "Eating", "Walking"], dtype=object))  # fmt: skip
    shifted = kp.copy()
    shifted[:, :, 0] += 7.0  # 7 px off: outside 5% of 100 px, inside 10%
    route = dataclasses.replace(route, kp2d_px=shifted[[0, 2, 1]])
    gap = gap_2d(route, gt)
    assert gap["kp2d_rows_compared"] == 2  # frames 2 and 3; frame 1 has no reference
    assert (
        gap["kp2d_error_px"] == 7.0
        and gap["kp2d_pck5_height"] == 0.0
        and gap["kp2d_pck10_height"] == 1.0
    )
    # left and right apart as in the reference, none swapped; then every label swapped
    assert gap["kp2d_left_right_ratio"] == 1.0 and gap["kp2d_swap_share"] == 0.0
    route = dataclasses.replace(route, kp2d_px=flip_lr(route.kp2d_px))
    assert gap_2d(route, gt)["kp2d_swap_share"] == 1.0


def test_error_budget_splits_the_route_error_into_the_lifter_the_cpn_and_the_detector() -> None:
    truth = _data(["Walking"] * 4)
    kp = np.zeros((4, 17, 2), np.float32)
    kp[:, :, 1] = np.linspace(0, 100, 17)
    truth = dataclasses.replace(truth, kp2d_px=kp, frame=np.arange(4))
    gt_box = dataclasses.replace(truth, kp2d_px=kp + np.array([3.0, 4.0], np.float32))  # 5 px
    route = dataclasses.replace(truth, kp2d_px=flip_lr(kp) + np.array([0.0, 10.0], np.float32))
    budget = error_budget({"gt2d": (50.0, truth), "gt_box": (80.0, gt_box.take(np.arange(3))),
                           "route": (200.0, route)}, truth)  # fmt: skip
    assert (budget["budget_gt2d_mpjpe_p1_mm"], budget["budget_gt_box_mpjpe_p1_mm"],
            budget["budget_route_mpjpe_p1_mm"]) == (50.0, 80.0, 200.0)  # fmt: skip
    assert (budget["budget_gt2d_rows"], budget["budget_gt_box_rows"]) == (4, 3)
    # the parts add up to the route's error: 50 + 30 + 120 mm
    assert [budget[f"budget_{p}_mm"] for p in ("lifter", "cpn", "detector")] == [50.0, 30.0, 120.0]
    assert [budget[f"budget_{p}_share"] for p in ("lifter", "cpn", "detector")] == [0.25, 0.15, 0.6]
    # each source's 2D against the truth: none off, 5 px off, every label swapped and 10 px off
    assert budget["budget_gt2d_kp2d_error_px"] == 0.0 and budget["budget_gt2d_swap_share"] == 0.0
    assert budget["budget_gt2d_left_right_ratio"] == 1.0
    assert budget["budget_gt_box_kp2d_error_px"] == 5.0 and budget["budget_gt_box_swap_share"] == 0
    assert budget["budget_route_swap_share"] == 1.0
    # without the CPN on label boxes: the sources there are, no split; without truth, no 2D
    partial = error_budget({"gt2d": (50.0, truth), "route": (200.0, route)}, None)
    assert partial == {"budget_gt2d_mpjpe_p1_mm": 50.0, "budget_gt2d_rows": 4,
                       "budget_route_mpjpe_p1_mm": 200.0, "budget_route_rows": 4}  # fmt: skip
    assert error_budget({"route": (200.0, route)}, truth) == {}  # nothing to compare with


def test_fig3_draws_rows_with_images_and_skips_unreadable_ones(tmp_path: Path) -> None:
    data = _data(["Walking", "Walking", "Eating"])
    image = np.zeros((60, 80, 3), np.uint8)
    assert cv2.imwrite(str(tmp_path / "a.png"), image)
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    paths = np.array([str(tmp_path / "a.png"), "", str(tmp_path / "bad.jpg")], dtype=object)
    boxes = np.array([[10, 10, 30, 50], [np.nan] * 4, [0, 0, 5, 5]], np.float32)
    data = dataclasses.replace(data, image_path=paths, box_xyxy_px=boxes)
    figure = fig3(data, data.pose3d_cam_mm, 4)
    assert figure is not None and len(figure.axes) == 3  # one row: image, prediction, truth
    assert fig3(dataclasses.replace(data, image_path=paths[[1]].repeat(3)), data.pose3d_cam_mm,
                4) is None  # fmt: skip
