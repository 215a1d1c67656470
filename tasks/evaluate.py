"""The `evaluate` stage: score the trained lifter on the `lifting` stage's test rows.

MPJPE Protocols 1 and 2 (per action, then over actions), per joint, the challenge metric, tables
and figures. What training decided (flip test, normalisation, input joints) comes from the
checkpoint. The outputs are written aside and moved in together, so a failed run leaves the
previous ones."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pose3d.io import staged_files, write_json_atomic, write_text_atomic
from pose3d.lifting.dataset import LiftingDataset, action_base
from pose3d.metrics import challenge_mpjpe, mpjpe, mpjpe_per_action, mpjpe_per_joint
from pose3d.plots import examples_figure, per_joint_figure, save_figure
from pose3d.skeleton import H36M17_JOINTS
from tasks._prefect import logger, stage_task
from tasks.trained_lifter import load_lifter, predict_dataset

UNKNOWN_ACTION = "(unknown)"


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, Any]
    per_action: dict[str, tuple[float, float, int]]  # action -> (P1 mm, P2 mm, rows)
    per_joint_mm: np.ndarray  # (17,) P1


def score(pred_mm: np.ndarray, data: LiftingDataset) -> Evaluation:
    """All the metrics of root-relative predictions against `data`. Shapes: pred_mm (N, 17, 3)."""
    gt = data.pose3d_cam_mm
    actions = np.array([action_base(str(a)) or UNKNOWN_ACTION for a in data.action])
    p1, p1_table = mpjpe_per_action(pred_mm, gt, actions, "root")
    p2, p2_table = mpjpe_per_action(pred_mm, gt, actions, "procrustes")
    per_action = {
        a: (p1_table[a], p2_table[a], int((actions == a).sum())) for a in sorted(p1_table)
    }
    metrics = {
        "mpjpe_p1_mm": p1,
        "mpjpe_p2_mm": p2,
        "mpjpe_p1_all_frames_mm": mpjpe(pred_mm, gt, "root"),
        "challenge_mpjpe_mm": challenge_mpjpe(pred_mm, gt),
        "rows": len(data),
        "actions": len(per_action),
    }
    return Evaluation(metrics, per_action, mpjpe_per_joint(pred_mm, gt, "root"))


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_evaluation(ev: Evaluation, out_dir: Path) -> None:
    """metrics.json, per_action.csv, per_joint.csv and per_joint.png in `out_dir`."""
    write_json_atomic(out_dir / "metrics.json", ev.metrics)
    rows = [[a, round(p1, 2), round(p2, 2), n] for a, (p1, p2, n) in ev.per_action.items()]
    write_text_atomic(
        out_dir / "per_action.csv", _csv(["action", "mpjpe_p1_mm", "mpjpe_p2_mm", "rows"], rows)
    )
    joints = [[j, round(float(e), 2)] for j, e in zip(H36M17_JOINTS, ev.per_joint_mm, strict=True)]
    write_text_atomic(out_dir / "per_joint.csv", _csv(["joint", "mpjpe_p1_mm"], joints))
    title = f"P1 {ev.metrics['mpjpe_p1_mm']:.1f} mm over {ev.metrics['rows']} rows"
    save_figure(per_joint_figure(ev.per_joint_mm, title), out_dir / "per_joint.png")


def evaluate_lifter(
    checkpoint: str | Path,
    data: LiftingDataset,
    out_dir: str | Path,
    examples: int = 4,
    device: torch.device | None = None,
) -> dict[str, Any]:
    """Predict `data` with the checkpoint's lifter (its own flip test), score it and write
    tables and figures to `out_dir`."""
    lifter = load_lifter(checkpoint, data.num_joints, device)
    pred = predict_dataset(lifter, data)
    ev = score(pred, data)
    with staged_files(out_dir) as tmp:
        write_evaluation(ev, tmp)
        if examples:
            pick = np.linspace(0, len(data) - 1, num=min(examples, len(data))).astype(int)
            titles = [f"{data.subject[i]} {data.action[i]} cam {data.camera[i]}" for i in pick]
            fig = examples_figure(data.kp2d_px[pick], data.pose3d_cam_mm[pick], pred[pick], titles)
            save_figure(fig, tmp / "examples.png")
    logger().info("evaluate: %s", ev.metrics)
    return ev.metrics


evaluate_lifter_task = stage_task(evaluate_lifter)
